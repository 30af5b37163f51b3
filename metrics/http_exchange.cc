#include "metrics/http_exchange.h"

#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <sstream>
#include <utility>

namespace strait::metrics {

namespace beast = boost::beast;
namespace http = beast::http;

struct HttpExchange::Parser {
  http::request_parser<http::empty_body> p;
};

HttpExchange::HttpExchange(const Render* render) : render_(render), parser_(std::make_unique<Parser>()) {
  parser_->p.header_limit(kMaxHeadBytes);
  parser_->p.body_limit(0);  // no body is read (see Feed)
}

HttpExchange::~HttpExchange() = default;

HttpExchange::Status HttpExchange::Feed(std::span<const std::uint8_t> bytes) {
  // At most kMaxHeadBytes are held at any time: a head that does not fit is an error, however the bytes come.
  while (status_ == Status::kNeedMore && !bytes.empty()) {
    if (held_.size() >= kMaxHeadBytes) {
      status_ = Status::kError;
      break;
    }
    const std::size_t take = std::min(bytes.size(), kMaxHeadBytes - held_.size());
    held_.append(reinterpret_cast<const char*>(bytes.data()), take);
    bytes = bytes.subspan(take);
    while (!held_.empty() && !parser_->p.is_done()) {
      beast::error_code ec;
      const std::size_t used = parser_->p.put(boost::asio::buffer(held_.data(), held_.size()), ec);
      held_.erase(0, used);
      if (ec == http::error::need_more) break;
      if (ec) {
        status_ = Status::kError;
        return status_;
      }
      if (used == 0) break;
      if (parser_->p.is_header_done() && !parser_->p.is_done()) {
        // The head announces a body (Content-Length above 0, or chunked): a metrics request has none. Refused
        // here, before any body byte reaches Beast: Boost 1.74's chunk parser asserts (n >= 5 in
        // parse_chunk_header) when a chunked body arrives a byte at a time (fuzz/corpus/metrics_http/chunked_*).
        status_ = Status::kError;
        return status_;
      }
    }
    if (parser_->p.is_done()) Respond();
  }
  return status_;
}

HttpExchange::Status HttpExchange::FeedEof() {
  if (status_ != Status::kNeedMore) return status_;
  // Nothing parsed yet (no bytes, or only part of the head, which Beast takes whole): the request never came.
  // put_eof requires got_some().
  beast::error_code ec;
  if (parser_->p.got_some()) parser_->p.put_eof(ec);
  if (parser_->p.got_some() && !ec && parser_->p.is_done()) {
    Respond();
  } else {
    status_ = Status::kError;
  }
  return status_;
}

void HttpExchange::Respond() {
  const auto& req = parser_->p.get();
  http::response<http::string_body> res;
  res.version(req.version());
  res.keep_alive(false);
  if (req.method() != http::verb::get) {
    res.result(http::status::method_not_allowed);
    res.body() = "GET only\n";
  } else {
    res.result(http::status::ok);
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    res.body() = (*render_)();
  }
  res.prepare_payload();
  std::ostringstream text;
  text << res;
  response_ = std::move(text).str();
  held_.clear();
  status_ = Status::kRespond;
}

}  // namespace strait::metrics
