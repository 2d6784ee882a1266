#include "store/store.h"

#include <sys/stat.h>

#include <thread>

#include <gtest/gtest.h>

#include "base/fs.h"

namespace husk::store {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/husk-store-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { (void)fs::RemoveAll(root_); }
  std::string root_;
};

TEST_F(StoreTest, PutBlobVerifiesAndIsIdempotent) {
  auto s = Store::Open(root_);
  ASSERT_TRUE(s.ok()) << s.error().message();
  auto d = s->PutBlob("hello");
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ(*d, Sha256Of("hello"));
  EXPECT_TRUE(s->HasBlob(*d));
  EXPECT_EQ(*s->ReadBlob(*d), "hello");
  struct stat st {};
  ASSERT_EQ(stat(s->BlobPath(*d).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u);
  EXPECT_EQ(*s->PutBlob("hello"), *d);
}

TEST_F(StoreTest, MismatchLeavesNothing) {
  auto s = Store::Open(root_);
  ASSERT_TRUE(s.ok());
  Digest want = Sha256Of("expected");
  auto w = s->Ingest(want, 8);
  ASSERT_TRUE(w.ok() && w->has_value());
  ASSERT_TRUE((*w)->Write("tampered", 8).ok());
  auto c = (*w)->Commit();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message().find("digest mismatch"), std::string::npos);
  EXPECT_FALSE(s->HasBlob(want));
  EXPECT_FALSE(fs::Exists(root_ + "/ingest/" + want.hex()));
  w->reset();  // releases the ingest lock
  // Too many bytes are refused while writing.
  auto w2 = s->Ingest(want, 3);
  ASSERT_TRUE(w2.ok() && w2->has_value());
  EXPECT_FALSE((*w2)->Write("toolong", 7).ok());
}

TEST_F(StoreTest, IngestResumesPartialData) {
  auto s = Store::Open(root_);
  ASSERT_TRUE(s.ok());
  std::string data(3 << 20, 'x');
  data[12345] = 'y';
  Digest d = Sha256Of(data);
  {
    auto w = s->Ingest(d, static_cast<int64_t>(data.size()));
    ASSERT_TRUE(w.ok() && w->has_value());
    ASSERT_TRUE((*w)->Write(data.data(), 1 << 20).ok());
    // Dropped without Commit, as a killed download would be.
  }
  auto w = s->Ingest(d, static_cast<int64_t>(data.size()));
  ASSERT_TRUE(w.ok() && w->has_value());
  EXPECT_EQ((*w)->offset(), 1u << 20);
  ASSERT_TRUE((*w)->Write(data.data() + (1 << 20), data.size() - (1 << 20)).ok());
  auto c = (*w)->Commit();
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(*s->ReadBlob(d), data);
}

TEST_F(StoreTest, ConcurrentIngestsFetchOnce) {
  auto s = Store::Open(root_);
  ASSERT_TRUE(s.ok());
  std::string data = "shared layer";
  Digest d = Sha256Of(data);
  std::atomic<int> writers{0};
  auto worker = [&] {
    auto w = s->Ingest(d, static_cast<int64_t>(data.size()));
    ASSERT_TRUE(w.ok());
    if (!w->has_value()) return;
    writers++;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE((*w)->Write(data.data(), data.size()).ok());
    ASSERT_TRUE((*w)->Commit().ok());
  };
  std::thread a(worker), b(worker);
  a.join();
  b.join();
  EXPECT_EQ(writers.load(), 1);
  EXPECT_TRUE(s->HasBlob(d));
}

TEST_F(StoreTest, ImageRecords) {
  auto s = Store::Open(root_);
  ASSERT_TRUE(s.ok());
  Digest d1 = Sha256Of("m1"), d2 = Sha256Of("m2");
  ASSERT_TRUE(s->PutImage({"docker.io/library/b:1", d1, "x", ""}).ok());
  ASSERT_TRUE(s->PutImage({"docker.io/library/a:1", d2, "x", ""}).ok());
  ASSERT_TRUE(s->PutImage({"docker.io/library/b:1", d2, "x", ""}).ok());
  auto recs = s->ListImages();
  ASSERT_TRUE(recs.ok());
  ASSERT_EQ(recs->size(), 2u);
  EXPECT_EQ((*recs)[0].name, "docker.io/library/a:1");
  EXPECT_EQ((*recs)[1].digest, d2);
  EXPECT_FALSE((*recs)[1].created.empty());
  EXPECT_TRUE(*s->RemoveImage("docker.io/library/a:1"));
  EXPECT_FALSE(*s->RemoveImage("docker.io/library/a:1"));
  EXPECT_FALSE(s->FindImage("docker.io/library/a:1")->has_value());
  auto r = s->Resolve("nothere");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("\"nothere\" not found"), std::string::npos);
}

TEST_F(StoreTest, PruneRemovesWhatNoRecordReaches) {
  auto s = Store::Open(root_);
  ASSERT_TRUE(s.ok());
  auto orphan = *s->PutBlob("orphan");
  auto w = s->Ingest(Sha256Of("partial"), 7);
  ASSERT_TRUE(w.ok() && w->has_value());
  ASSERT_TRUE((*w)->Write("par", 3).ok());
  w->reset();
  auto st = s->Prune();
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(st->blobs, 1u);
  EXPECT_EQ(st->ingests, 1u);
  EXPECT_FALSE(s->HasBlob(orphan));
}

}  // namespace
}  // namespace husk::store
