// config.json → oci::Spec. Every error names the JSON field that is wrong.
#include <nlohmann/json.hpp>

#include "oci/json_reader.h"
#include "oci/spec.h"

namespace husk::oci {

namespace {

using nlohmann::json;

Status ParseUser(Reader& r, const json& o, User* u) {
  const std::string w = "process.user.";
  TRY(r.Int(o, "uid", w, &u->uid));
  TRY(r.Int(o, "gid", w, &u->gid));
  TRY(r.OptInt(o, "umask", w, &u->umask));
  TRY(r.String(o, "username", w, &u->username));
  if (auto* a = TRY(r.Array(o, "additionalGids", w))) {
    for (size_t i = 0; i < a->size(); ++i) {
      uint32_t g = 0;
      TRY(r.IntValue((*a)[i], w + "additionalGids[" + std::to_string(i) + "]", &g));
      u->additional_gids.push_back(g);
    }
  }
  return Ok();
}

Status ParseProcessObj(Reader& r, const json& o, Process* p) {
  const std::string w = "process.";
  TRY(r.Bool(o, "terminal", w, &p->terminal));
  if (auto* cs = TRY(r.Object(o, "consoleSize", w))) {
    ConsoleSize size;
    TRY(r.Int(*cs, "height", w + "consoleSize.", &size.height));
    TRY(r.Int(*cs, "width", w + "consoleSize.", &size.width));
    p->console_size = size;
  }
  if (auto* u = TRY(r.Object(o, "user", w))) TRY(ParseUser(r, *u, &p->user));
  TRY(r.Strings(o, "args", w, &p->args));
  if (o.contains("commandLine")) return r.Bad(w + "commandLine", "is for Windows only");
  TRY(r.Strings(o, "env", w, &p->env));
  TRY(r.String(o, "cwd", w, &p->cwd));
  if (p->cwd.empty() || p->cwd.front() != '/') return r.Bad(w + "cwd", "must be an absolute path");
  if (auto* c = TRY(r.Object(o, "capabilities", w))) {
    Capabilities caps;
    const std::string cw = w + "capabilities.";
    TRY(r.Strings(*c, "bounding", cw, &caps.bounding));
    TRY(r.Strings(*c, "effective", cw, &caps.effective));
    TRY(r.Strings(*c, "inheritable", cw, &caps.inheritable));
    TRY(r.Strings(*c, "permitted", cw, &caps.permitted));
    TRY(r.Strings(*c, "ambient", cw, &caps.ambient));
    p->capabilities = std::move(caps);
  }
  if (auto* rl = TRY(r.Array(o, "rlimits", w))) {
    for (size_t i = 0; i < rl->size(); ++i) {
      const auto& e = (*rl)[i];
      std::string iw = Idx(w + "rlimits", i);
      if (!e.is_object()) return r.Bad(iw.substr(0, iw.size() - 1), "must be an object");
      Rlimit lim;
      TRY(r.String(e, "type", iw, &lim.type));
      TRY(r.Int(e, "hard", iw, &lim.hard));
      TRY(r.Int(e, "soft", iw, &lim.soft));
      if (lim.type.empty()) return r.Bad(iw + "type", "is required");
      p->rlimits.push_back(std::move(lim));
    }
  }
  TRY(r.Bool(o, "noNewPrivileges", w, &p->no_new_privileges));
  TRY(r.String(o, "apparmorProfile", w, &p->apparmor_profile));
  TRY(r.OptInt(o, "oomScoreAdj", w, &p->oom_score_adj));
  if (p->oom_score_adj && (*p->oom_score_adj < -1000 || *p->oom_score_adj > 1000))
    return r.Bad(w + "oomScoreAdj", "must be between -1000 and 1000");
  TRY(r.String(o, "selinuxLabel", w, &p->selinux_label));
  return Ok();
}

Status ParseHooks(Reader& r, const json& o, Hooks* h) {
  struct Kind {
    const char* name;
    std::vector<Hook>* list;
  } kinds[] = {{"prestart", &h->prestart},
               {"createRuntime", &h->create_runtime},
               {"createContainer", &h->create_container},
               {"startContainer", &h->start_container},
               {"poststart", &h->poststart},
               {"poststop", &h->poststop}};
  for (auto& k : kinds) {
    auto* a = TRY(r.Array(o, k.name, "hooks."));
    if (!a) continue;
    for (size_t i = 0; i < a->size(); ++i) {
      const auto& e = (*a)[i];
      std::string iw = Idx(std::string("hooks.") + k.name, i);
      if (!e.is_object()) return r.Bad(iw.substr(0, iw.size() - 1), "must be an object");
      Hook hook;
      TRY(r.String(e, "path", iw, &hook.path));
      if (hook.path.empty() || hook.path.front() != '/')
        return r.Bad(iw + "path", "must be an absolute path");
      TRY(r.Strings(e, "args", iw, &hook.args));
      TRY(r.Strings(e, "env", iw, &hook.env));
      TRY(r.OptInt(e, "timeout", iw, &hook.timeout));
      if (hook.timeout && *hook.timeout <= 0) return r.Bad(iw + "timeout", "must be positive");
      k.list->push_back(std::move(hook));
    }
  }
  return Ok();
}

}  // namespace

Result<Spec> ParseSpec(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Err("config.json: not valid JSON");
  if (!doc.is_object()) return Err("config.json: must be a JSON object");
  Reader r("config.json: ");
  Spec s;
  TRY(r.String(doc, "ociVersion", "", &s.oci_version));
  if (s.oci_version.empty()) return r.Bad("ociVersion", "is required");
  if (s.oci_version.rfind("1.", 0) != 0)
    return r.Bad("ociVersion", "unsupported version \"" + s.oci_version + "\"");
  auto* root = TRY(r.Object(doc, "root", ""));
  if (!root) return r.Bad("root", "is required");
  TRY(r.String(*root, "path", "root.", &s.root.path));
  if (s.root.path.empty()) return r.Bad("root.path", "is required");
  TRY(r.Bool(*root, "readonly", "root.", &s.root.readonly));
  if (auto* p = TRY(r.Object(doc, "process", ""))) {
    Process proc;
    TRY(ParseProcessObj(r, *p, &proc));
    s.process = std::move(proc);
  }
  TRY(r.String(doc, "hostname", "", &s.hostname));
  TRY(r.String(doc, "domainname", "", &s.domainname));
  if (auto* m = TRY(r.Array(doc, "mounts", ""))) {
    for (size_t i = 0; i < m->size(); ++i) {
      const auto& e = (*m)[i];
      std::string iw = Idx("mounts", i);
      if (!e.is_object()) return r.Bad(iw.substr(0, iw.size() - 1), "must be an object");
      Mount mnt;
      TRY(r.String(e, "destination", iw, &mnt.destination));
      if (mnt.destination.empty()) return r.Bad(iw + "destination", "is required");
      TRY(r.String(e, "type", iw, &mnt.type));
      TRY(r.String(e, "source", iw, &mnt.source));
      TRY(r.Strings(e, "options", iw, &mnt.options));
      if (e.contains("uidMappings") || e.contains("gidMappings"))
        return r.Bad(iw + "uidMappings", "idmapped mounts are not supported");
      s.mounts.push_back(std::move(mnt));
    }
  }
  if (auto* h = TRY(r.Object(doc, "hooks", ""))) TRY(ParseHooks(r, *h, &s.hooks));
  TRY(r.StringMap(doc, "annotations", "", &s.annotations));
  if (auto* l = TRY(r.Object(doc, "linux", ""))) {
    Linux lx;
    TRY(ParseLinuxObj(r, *l, &lx));
    s.linux_ = std::move(lx);
  }
  return s;
}

Result<Process> ParseProcess(std::string_view text) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return Err("process.json: not valid JSON");
  if (!doc.is_object()) return Err("process.json: must be a JSON object");
  Reader r("process.json: ");
  Process p;
  TRY(ParseProcessObj(r, doc, &p));
  return p;
}

Result<Resources> ParseResources(std::string_view text) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return Err("resources: not valid JSON");
  if (!doc.is_object()) return Err("resources: must be a JSON object");
  Resources res;
  Reader r("resources: ");
  TRY(ParseResourcesObj(r, doc, "", &res));
  return res;
}

}  // namespace husk::oci
