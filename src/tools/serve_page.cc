#include "tools/serve_page.h"

#include <nlohmann/json.hpp>

namespace duq::tools {

std::string serve_page_html(const std::string& model_id, bool chat) {
  const std::string id = nlohmann::json(model_id).dump();  // a JS string literal (JSON is valid JS)
  std::string page = R"HTML(<!doctype html>
<html><head><meta charset="utf-8"><title>duquant serve</title>
<style>
body{font-family:sans-serif;max-width:48em;margin:2em auto;padding:0 1em}
#log div{white-space:pre-wrap;margin:.4em 0}.user{color:#245}.bot{color:#222}
textarea{width:100%;height:4em}
</style></head><body>
<h1>duquant serve</h1><p>model <b id="model"></b></p>
<div id="log"></div>
<textarea id="input" placeholder="Say something"></textarea>
<button id="send">Send</button>
<div id="reply" data-chunks="0" data-state="idle" hidden></div>
<script>
const MODEL = __MODEL__, CHAT = __CHAT__;
document.getElementById('model').textContent = MODEL;
const log = document.getElementById('log'), reply = document.getElementById('reply');
const history = [];
function line(cls, text) { const d = document.createElement('div'); d.className = cls; d.textContent = text; log.appendChild(d); return d; }
async function send(text) {
  line('user', text);
  const out = line('bot', '');
  reply.textContent = ''; reply.dataset.state = 'streaming'; reply.dataset.chunks = '0';
  history.push({role: 'user', content: text});
  const body = CHAT ? {model: MODEL, messages: history, stream: true, temperature: 0}
                    : {model: MODEL, prompt: text, stream: true, temperature: 0};
  const res = await fetch(CHAT ? '/v1/chat/completions' : '/v1/completions',
                          {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
  if (!res.ok) { out.textContent = 'error ' + res.status + ': ' + await res.text(); reply.dataset.state = 'error'; return; }
  const reader = res.body.getReader(), dec = new TextDecoder();
  let buf = '', full = '';
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buf += dec.decode(value, {stream: true});
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, i); buf = buf.slice(i + 2);
      if (!ev.startsWith('data: ')) continue;
      const data = ev.slice(6);
      if (data === '[DONE]') continue;
      const j = JSON.parse(data);
      const c = j.choices && j.choices[0];
      const piece = c ? (CHAT ? (c.delta.content || '') : (c.text || '')) : '';
      full += piece; out.textContent = full; reply.textContent = full;
      reply.dataset.chunks = String(Number(reply.dataset.chunks) + 1);
    }
  }
  history.push({role: 'assistant', content: full});
  reply.dataset.state = 'done';
}
document.getElementById('send').onclick = () => { const t = document.getElementById('input'); const v = t.value; t.value = ''; if (v) send(v); };
const q = new URLSearchParams(location.search);
if (q.get('autosend') === '1' && q.get('prompt')) send(q.get('prompt'));
</script></body></html>
)HTML";
  auto put = [&](const std::string& key, const std::string& v) { page.replace(page.find(key), key.size(), v); };
  put("__MODEL__", id);
  put("__CHAT__", chat ? "true" : "false");
  return page;
}

}  // namespace duq::tools
