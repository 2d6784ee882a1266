#include "engine/push.h"

#include <fcntl.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "base/fs.h"
#include "image/reference.h"

namespace husk::engine {

Result<PushResult> Push(store::Store& st, const std::string& local, const std::string& dest,
                        const PushOptions& o, Progress& progress) {
  auto img = TRY(st.Resolve(local));
  auto ref = TRY(image::ParseReference(dest.empty() ? img.record.name : dest));
  if (ref.tag.empty() && !ref.digest) return Err("{}: a tag or digest is needed", dest);
  auto remotes = TRY(RemotesFor(ref, o.remote, /*for_push=*/true));
  auto& client = *remotes.back().client;
  const std::string repo = remotes.back().endpoint.repo;

  // A cross-repository mount works when the source was in the same registry.
  std::optional<std::string> mount_from;
  if (auto src = image::ParseReference(img.record.name); src.ok()) {
    if (src->domain == ref.domain && src->path != ref.path) mount_from = src->path;
  }

  std::vector<image::Descriptor> blobs = img.manifest.layers;
  blobs.push_back(img.manifest.config);
  std::vector<int> pids;
  for (auto& b : blobs)
    pids.push_back(progress.Add(
        (b.digest == img.manifest.config.digest ? "config " : "layer ") + b.digest.short_hex(),
        b.size));
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> uploaded{0};
  std::mutex mu;
  std::optional<Error> first_err;
  auto worker = [&] {
    for (;;) {
      size_t i = next++;
      if (i >= blobs.size()) return;
      {
        std::lock_guard<std::mutex> l(mu);
        if (first_err) return;
      }
      auto& b = blobs[i];
      Status s = Ok();
      auto fd = fs::Open(st.BlobPath(b.digest), O_RDONLY | O_CLOEXEC);
      if (!fd) {
        s = Err("blob {} is not in the store (was the image pulled?)", b.digest.str());
      } else {
        auto had = client.HeadBlob(repo, b.digest);
        if (had.ok() && had->has_value()) {
          progress.Done(pids[i], "already exists");
          continue;
        }
        s = client.PushBlobFromFd(repo, b.digest, static_cast<uint64_t>(b.size), fd->get(),
                                  mount_from);
      }
      if (!s) {
        std::lock_guard<std::mutex> l(mu);
        if (!first_err) first_err = std::move(s).error();
        return;
      }
      uploaded += static_cast<uint64_t>(b.size);
      progress.Advance(pids[i], static_cast<uint64_t>(b.size));
      progress.Done(pids[i], "pushed");
    }
  };
  int n = std::max(1, std::min<int>(o.jobs, static_cast<int>(blobs.size())));
  std::vector<std::thread> threads;
  for (int t = 0; t < n; t++) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (first_err) return std::move(*first_err);

  auto mbytes = TRY(st.ReadBlob(img.manifest_digest));
  std::string mtype = img.manifest.media_type;
  progress.Message("Writing manifest " + img.manifest_digest.str());
  TRY(client.PutManifest(repo, ref.ManifestRef(), mtype, mbytes));
  progress.Finish();
  PushResult res;
  res.name = ref.String();
  res.manifest = img.manifest_digest;
  res.media_type = mtype;
  res.size = static_cast<int64_t>(mbytes.size());
  res.uploaded = uploaded.load();
  return res;
}

}  // namespace husk::engine
