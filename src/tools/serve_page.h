// The one static page `duquant serve` answers at /: a chat box that streams replies from
// /v1/chat/completions (or /v1/completions when the server has no chat template). No external resources.
// ?prompt=TEXT&autosend=1 sends TEXT on load (the headless-browser test); #reply holds the streamed text,
// data-chunks the number of stream events received, data-state "done" at the end.
#pragma once
#include <string>

namespace duq::tools {
std::string serve_page_html(const std::string& model_id, bool chat);
}
