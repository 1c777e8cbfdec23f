// Commands other than "pin …": id, version, peers, status, recover, health.
#include "tools/cli/commands.h"

#include <iostream>

#include "tools/cli/cli.h"
#include "tools/cli/print.h"

namespace trellis::cli {

namespace {

[[noreturn]] void api_error(const Response& r) {
  std::string message;
  try {
    json e = json::parse(r.body);
    if (e.is_object() && e.contains("message") && e["message"].is_string())
      message = e["message"].get<std::string>();
  } catch (const json::exception&) {
  }
  if (message.empty()) {
    message = r.body.substr(0, 200);
    while (!message.empty() && std::isspace(static_cast<unsigned char>(message.back())))
      message.pop_back();
  }
  if (message.empty()) message = "request failed";
  fail(kApiError, message + " (HTTP " + std::to_string(r.status) + ")");
}

json parse(std::string_view raw) {
  try {
    return json::parse(raw);
  } catch (const json::exception& e) {
    fail(kApiError, std::string("unreadable JSON from the API: ") + e.what());
  }
}

void emit(const std::string& text) {
  std::cout << text;
  std::cout.flush();
}

std::string pin_path(const std::string& cid) {
  return "/pins/" + url_encode(cid);
}

}  // namespace

json call_json(Context& cx, const std::string& method, const std::string& target,
               std::string* raw) {
  Response r = cx.client.request(method, target);
  if (r.status / 100 != 2) api_error(r);
  if (raw) *raw = r.body;
  return parse(r.body);
}

void call_list(Context& cx, const std::string& method, const std::string& target,
               const ItemFn& fn) {
  LineSink sink = [&](std::string_view line) {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;
    fn(parse(line), line);
  };
  Response r = cx.client.request(method, target, sink);
  if (r.status / 100 != 2) api_error(r);
  if (!r.stream_error.empty()) fail(kApiError, r.stream_error + " (stream error)");
}

void print_line(std::string_view raw) {
  while (!raw.empty() && (raw.back() == '\n' || raw.back() == '\r')) raw.remove_suffix(1);
  std::cout << raw << '\n';
  std::cout.flush();
}

int cmd_id(Context& cx) {
  std::string raw;
  json id = call_json(cx, "GET", "/id", &raw);
  cx.json_output ? print_line(raw) : emit(format_id(id));
  return kOk;
}

int cmd_version(Context& cx) {
  std::string raw;
  json v = call_json(cx, "GET", "/version", &raw);
  if (cx.json_output) {
    print_line(raw);
  } else {
    emit("trellis CLI " TRELLIS_CLI_VERSION "\npeer " + v.value("version", "?") + " at " +
         cx.client.current().text + "\n");
  }
  return kOk;
}

int cmd_peers_ls(Context& cx) {
  call_list(cx, "GET", "/peers", [&](const json& id, std::string_view raw) {
    cx.json_output ? print_line(raw) : emit(format_id(id));
  });
  return kOk;
}

int cmd_peers_rm(Context& cx) {
  Response r = cx.client.request("DELETE", "/peers/" + url_encode(cx.args.positional.at(0)));
  if (r.status / 100 != 2) api_error(r);
  if (cx.json_output && !r.body.empty()) print_line(r.body);
  return kOk;
}

// Does any peer's status match the filter (names, or the groups "error" and
// "queued")? The same rule as the API's GET /pins?filter=.
static bool matches(const json& gpi, const std::vector<std::string>& filter) {
  if (filter.empty()) return true;
  if (!gpi.contains("peer_map") || !gpi["peer_map"].is_object()) return false;
  for (const auto& [pid, info] : gpi["peer_map"].items()) {
    std::string s = info.value("status", "");
    for (const auto& f : filter) {
      if (s == f) return true;
      if (f == "error" && s.ends_with("_error")) return true;
      if (f == "queued" && s.ends_with("_queued")) return true;
    }
  }
  return false;
}

int cmd_status(Context& cx) {
  auto filter_text = cx.args.get("filter");
  bool local = cx.args.has("local");
  auto show = [&](const json& gpi, std::string_view raw) {
    cx.json_output ? print_line(raw) : emit(format_status(gpi));
  };
  if (cx.args.positional.empty()) {
    Query q;
    if (filter_text) q.add("filter", *filter_text);
    if (local) q.add("local", "true");
    call_list(cx, "GET", "/pins" + q.str(), show);
    return kOk;
  }
  auto filter = filter_text ? split(*filter_text, ',') : std::vector<std::string>{};
  Query q;
  if (local) q.add("local", "true");
  for (const auto& cid : cx.args.positional) {
    std::string raw;
    json gpi = call_json(cx, "GET", pin_path(cid) + q.str(), &raw);
    if (matches(gpi, filter)) show(gpi, raw);
  }
  return kOk;
}

int cmd_recover(Context& cx) {
  Query q;
  if (cx.args.has("local")) q.add("local", "true");
  auto show = [&](const json& gpi, std::string_view raw) {
    cx.json_output ? print_line(raw) : emit(format_status(gpi));
  };
  if (cx.args.positional.empty()) {
    call_list(cx, "POST", "/pins/recover" + q.str(), show);
  } else {
    for (const auto& cid : cx.args.positional) {
      std::string raw;
      json gpi = call_json(cx, "POST", pin_path(cid) + "/recover" + q.str(), &raw);
      show(gpi, raw);
    }
  }
  return kOk;
}

int cmd_health_graph(Context& cx) {
  std::string raw;
  json g = call_json(cx, "GET", "/health/graph", &raw);
  cx.json_output ? print_line(raw) : emit(format_dot(g));
  return kOk;
}

// The API answers a JSON array; --json prints one element per line, like
// the streamed lists.
static void each(const json& list, const std::function<void(const json&)>& fn) {
  if (list.is_null()) return;
  if (!list.is_array()) fail(kApiError, "expected a JSON array from the API");
  for (const auto& v : list) fn(v);
}

int cmd_health_metrics(Context& cx) {
  if (cx.args.positional.empty()) {
    each(call_json(cx, "GET", "/monitor/metrics"), [&](const json& name) {
      if (cx.json_output)
        print_line(name.dump());
      else
        emit((name.is_string() ? name.get<std::string>() : name.dump()) + "\n");
    });
    return kOk;
  }
  each(call_json(cx, "GET", "/monitor/metrics/" + url_encode(cx.args.positional[0])),
       [&](const json& m) { cx.json_output ? print_line(m.dump()) : emit(format_metric(m)); });
  return kOk;
}

int cmd_health_alerts(Context& cx) {
  each(call_json(cx, "GET", "/health/alerts"),
       [&](const json& a) { cx.json_output ? print_line(a.dump()) : emit(format_alert(a)); });
  return kOk;
}

}  // namespace trellis::cli
