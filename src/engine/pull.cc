#include "engine/pull.h"

#include <atomic>
#include <mutex>
#include <thread>

#include "image/reference.h"

namespace husk::engine {
namespace {

// Downloads one blob into the store (resuming a partial one), verifying it.
// Returns the bytes fetched, or nullopt when the store already had the blob
// (perhaps because another pull fetched it while this one waited).
Result<std::optional<uint64_t>> FetchBlob(store::Store& st, registry::Client& c,
                                          const std::string& repo, const image::Descriptor& d,
                                          Progress& progress, int pid) {
  auto w = TRY(st.Ingest(d.digest, d.size));
  if (!w) return std::optional<uint64_t>();
  uint64_t start = w->offset();
  if (start > 0) progress.Advance(pid, start);
  uint64_t got = 0;
  auto s = c.GetBlob(repo, d.digest, start, [&](const char* data, size_t n) -> Status {
    TRY(w->Write(data, n));
    got += n;
    progress.Advance(pid, n);
    return Ok();
  });
  if (!s) return std::move(s).error();
  TRY(w->Commit());
  return std::optional<uint64_t>(got);
}

struct LayerJob {
  image::Descriptor desc;
  Digest diff_id;
  Digest chain_id;
  int pid = -1;
};

}  // namespace

Result<PullResult> Pull(store::Store& st, const std::string& name, const PullOptions& o,
                        Progress& progress) {
  auto ref = TRY(image::ParseReference(name));
  auto remotes = TRY(RemotesFor(ref, o.remote, /*for_push=*/false));
  // Mirrors first, the registry last; the last error is the one reported.
  std::optional<Error> last;
  for (auto& r : remotes) {
    auto& client = *r.client;
    const std::string& repo = r.endpoint.repo;
    auto top = client.GetManifest(repo, ref.ManifestRef());
    if (!top) {
      last = std::move(top).error();
      continue;
    }
    PullResult res;
    res.name = ref.String();
    auto kind = TRY_CTX(image::ClassifyManifest(top->bytes, top->media_type), "{}", res.name);
    std::string mbytes = top->bytes, mtype = top->media_type;
    Digest mdigest = top->digest;
    if (kind == image::DocKind::kIndex) {
      auto idx = TRY_CTX(image::ParseIndex(top->bytes, top->media_type), "{}", res.name);
      auto d = TRY_CTX(image::SelectPlatform(idx, o.platform), "{}", res.name);
      auto m = TRY(client.GetManifest(repo, d.digest.str()));
      mbytes = std::move(m.bytes);
      mtype = m.media_type;
      mdigest = m.digest;
      auto k2 = TRY_CTX(image::ClassifyManifest(mbytes, mtype), "{}", res.name);
      if (k2 != image::DocKind::kManifest)
        return Err("{}: index entry {} is not an image manifest", res.name, d.digest.str());
    }
    auto manifest = TRY_CTX(image::ParseManifest(mbytes, mtype), "{}", res.name);
    // Refuse what cannot be unpacked before fetching anything.
    for (auto& l : manifest.layers)
      TRY_CTX(image::LayerCompressionOf(l.media_type), "{}: layer {}", res.name, l.digest.str());

    int cfg_pid =
        progress.Add("config " + manifest.config.digest.short_hex(), manifest.config.size);
    auto cfg_got = TRY_CTX(FetchBlob(st, client, repo, manifest.config, progress, cfg_pid),
                           "{}: config", res.name);
    res.downloaded += cfg_got.value_or(0);
    progress.Done(cfg_pid, cfg_got ? "done" : "already exists");
    auto config_bytes = TRY(st.ReadBlob(manifest.config.digest));
    auto config = TRY_CTX(image::ParseImageConfig(config_bytes), "{}", res.name);
    if (config.diff_ids.size() != manifest.layers.size())
      return Err("{}: manifest has {} layers but the config {} DiffIDs", res.name,
                 manifest.layers.size(), config.diff_ids.size());
    auto chains = image::ChainIds(config.diff_ids);

    std::vector<LayerJob> jobs;
    for (size_t i = 0; i < manifest.layers.size(); i++) {
      LayerJob j{manifest.layers[i], config.diff_ids[i], chains[i], -1};
      j.pid = progress.Add("layer " + j.desc.digest.short_hex(), j.desc.size);
      jobs.push_back(j);
    }
    // A small pool: each worker takes the next layer, downloads it and unpacks
    // it, so unpacking overlaps other layers' downloads.
    std::atomic<size_t> next{0};
    std::atomic<uint64_t> downloaded{0};
    std::mutex err_mu;
    std::optional<Error> first_err;
    auto worker = [&] {
      for (;;) {
        {
          std::lock_guard<std::mutex> l(err_mu);
          if (first_err) return;
        }
        size_t i = next++;
        if (i >= jobs.size()) return;
        auto& j = jobs[i];
        bool fetched = false;
        auto got = FetchBlob(st, client, repo, j.desc, progress, j.pid);
        Status s = Ok();
        if (!got) {
          s = std::move(got).error();
        } else {
          fetched = got->has_value();
          downloaded += got->value_or(0);
          auto li = st.EnsureLayer(j.chain_id, j.desc.digest, j.diff_id);
          if (!li) s = std::move(li).error();
        }
        if (!s) {
          std::lock_guard<std::mutex> l(err_mu);
          if (!first_err) first_err = std::move(s).error().wrap(res.name);
          return;
        }
        progress.Done(j.pid, fetched ? "done" : "already exists");
      }
    };
    int n = std::max(1, std::min<int>(o.jobs, static_cast<int>(jobs.size())));
    std::vector<std::thread> threads;
    for (int t = 0; t < n; t++) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
    if (first_err) return std::move(*first_err);
    res.downloaded += downloaded.load();

    // Blobs before the record that names them.
    auto stored = TRY(st.PutBlob(mbytes));
    if (!(stored == mdigest)) return Err("{}: manifest digest changed while storing", res.name);
    TRY(st.PutImage({res.name, mdigest, mtype, ""}));
    res.manifest = mdigest;
    res.config = manifest.config.digest;
    progress.Finish();
    return res;
  }
  return std::move(*last);
}

}  // namespace husk::engine
