// EXPECT_ERROR_HAS(statement, part): the statement must throw duq::Error whose message contains `part`.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"

#define EXPECT_ERROR_HAS(stmt, part)                                                             \
  do {                                                                                           \
    std::string msg_;                                                                            \
    try {                                                                                        \
      stmt;                                                                                      \
      ADD_FAILURE() << "no duq::Error from " #stmt;                                              \
    } catch (const ::duq::Error& e) {                                                            \
      msg_ = e.what();                                                                           \
    }                                                                                            \
    EXPECT_NE(msg_.find(part), std::string::npos) << "expected '" << (part) << "' in: " << msg_; \
  } while (0)
