#include "archive/decompress.h"

#include <gtest/gtest.h>

#include "archive/compress.h"
#include "archive/test_util.h"

namespace husk::archive {
namespace {

using testutil::Sh;
using testutil::TempDir;

// Runs `tool` (e.g. "gzip -c") over `data` through files.
std::string Tool(const std::string& tool, const std::string& data) {
  TempDir t;
  EXPECT_TRUE(fs::WriteFile(t / "in", data).ok());
  auto [rc, out] = Sh(fmt::format("{} < {}", tool, t / "in"));
  EXPECT_EQ(rc, 0) << tool;
  return out;
}

// Data that compresses but not trivially, several MiB to cross every buffer.
std::string Sample(size_t n) {
  std::string s;
  s.reserve(n);
  uint32_t x = 12345;
  while (s.size() < n) {
    x = x * 1103515245 + 12345;
    s += fmt::format("line {} value {}\n", s.size(), (x >> 16) % 1000);
  }
  s.resize(n);
  return s;
}

Result<std::string> DecompressAll(const std::string& in, size_t chunk = 100000) {
  StringReader src(in);
  DecompressReader r(src);
  std::string out, buf(chunk, '\0');
  for (;;) {
    size_t n = TRY(r.Read(buf.data(), buf.size()));
    if (n == 0) return out;
    out.append(buf.data(), n);
  }
}

TEST(Decompress, DetectsFormatsByMagic) {
  EXPECT_EQ(DetectCompression("\x1f\x8b\x08"), Compression::kGzip);
  EXPECT_EQ(DetectCompression("\x28\xb5\x2f\xfd\x00"), Compression::kZstd);
  EXPECT_EQ(DetectCompression(std::string_view("\xfd\x37\x7a\x58\x5a\x00", 6)), Compression::kXz);
  EXPECT_EQ(DetectCompression("ustar"), Compression::kNone);
  EXPECT_EQ(DetectCompression(""), Compression::kNone);
}

TEST(Decompress, ReadsWhatSystemToolsWrite) {
  std::string data = Sample(5 << 20);
  for (const char* tool : {"gzip -c", "zstd -q -c", "xz -0 -c -T1", "cat"}) {
    auto out = DecompressAll(Tool(tool, data));
    ASSERT_TRUE(out.ok()) << tool << ": " << out.error().message();
    EXPECT_EQ(*out == data, true) << tool;
  }
}

TEST(Decompress, ReportsTheDetectedFormat) {
  std::string gz = Tool("gzip -c", "abc");
  StringReader src(gz);
  DecompressReader r(src);
  auto c = r.Detect();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, Compression::kGzip);
  char buf[8];
  auto n = r.Read(buf, sizeof buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf, *n), "abc");
}

TEST(Decompress, MultiMemberGzipReadsEveryMember) {
  std::string a = Sample(3 << 20), b = "second member\n", c = Sample(1000);
  std::string gz = Tool("gzip -c", a) + Tool("gzip -1 -c", b) + Tool("gzip -9 -c", c);
  // What `gzip -d` makes of it is the reference.
  ASSERT_EQ(Tool("gzip -dc", gz), a + b + c);
  for (size_t chunk : {size_t{1}, size_t{4096}, size_t{1} << 20}) {
    if (chunk == 1) {
      auto small = DecompressAll(Tool("gzip -c", "x") + Tool("gzip -c", "yz"), 1);
      ASSERT_TRUE(small.ok()) << small.error().message();
      EXPECT_EQ(*small, "xyz");
      continue;
    }
    auto out = DecompressAll(gz, chunk);
    ASSERT_TRUE(out.ok()) << out.error().message();
    EXPECT_TRUE(*out == a + b + c) << "chunk " << chunk;
  }
}

TEST(Decompress, GzipTrailingZerosAreIgnoredButGarbageIsNot) {
  std::string gz = Tool("gzip -c", "payload");
  auto padded = DecompressAll(gz + std::string(1000, '\0'));
  ASSERT_TRUE(padded.ok()) << padded.error().message();
  EXPECT_EQ(*padded, "payload");
  auto junk = DecompressAll(gz + "junk");
  ASSERT_FALSE(junk.ok());
  EXPECT_NE(junk.error().message().find("trailing garbage"), std::string::npos)
      << junk.error().message();
}

TEST(Decompress, TruncatedStreamsAreErrors) {
  std::string data = Sample(1 << 20);
  struct Case {
    const char* tool;
    const char* want;
  } cases[] = {{"gzip -c", "gzip stream truncated"},
               {"zstd -q -c", "zstd stream truncated"},
               {"xz -0 -c -T1", "xz stream truncated"}};
  for (const auto& c : cases) {
    std::string full = Tool(c.tool, data);
    for (size_t cut : {full.size() / 2, full.size() - 1}) {
      auto out = DecompressAll(full.substr(0, cut));
      ASSERT_FALSE(out.ok()) << c.tool << " cut at " << cut;
      EXPECT_NE(out.error().message().find(c.want), std::string::npos)
          << c.tool << ": " << out.error().message();
    }
  }
  // Cut inside the 8-byte trailer: all data is there, the check is not.
  std::string gz = Tool("gzip -c", "hello");
  auto out = DecompressAll(gz.substr(0, gz.size() - 3));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().message(), "gzip stream truncated");
}

TEST(Decompress, GzipChecksumMismatchIsAnError) {
  std::string gz = Tool("gzip -c", Sample(10000));
  gz[gz.size() - 6] ^= 0x55;  // in the CRC-32
  auto out = DecompressAll(gz);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().message().find("CRC-32"), std::string::npos) << out.error().message();

  std::string gz2 = Tool("gzip -c", "first") + Tool("gzip -c", Sample(10000));
  gz2[gz2.size() - 2] ^= 0x01;  // in the second member's length
  out = DecompressAll(gz2);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().message().find("gzip member 2"), std::string::npos)
      << out.error().message();
}

TEST(Decompress, CorruptZstdIsAnError) {
  std::string zst = Tool("zstd -q -c", Sample(100000));
  zst[zst.size() / 2] ^= 0xff;
  auto out = DecompressAll(zst);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().message().rfind("zstd", 0), 0u) << out.error().message();
}

TEST(Decompress, DigestingReaderHashesWhatPasses) {
  std::string data = Sample(300000);
  StringReader src(data);
  DigestingReader d(src);
  std::string buf(7777, '\0');
  while (*d.Read(buf.data(), buf.size()) > 0) {
  }
  EXPECT_EQ(d.bytes(), data.size());
  EXPECT_EQ(d.Final(), Sha256Of(data));
}

TEST(Compress, GzipAndZstdRoundTripAndAreDeterministic) {
  std::string data = Sample(3 << 20);
  for (Compression c : {Compression::kGzip, Compression::kZstd, Compression::kNone}) {
    std::string first;
    for (int i = 0; i < 2; i++) {
      StringWriter sink;
      auto w = NewCompressWriter(c, sink);
      ASSERT_TRUE(w.ok());
      // Uneven pieces: the output must not depend on how input was split.
      size_t step = i == 0 ? 512 : 100003;
      for (size_t off = 0; off < data.size(); off += step)
        ASSERT_TRUE((*w)->Write(data.data() + off, std::min(step, data.size() - off)).ok());
      ASSERT_TRUE((*w)->Finish().ok());
      if (i == 0) first = sink.str();
      EXPECT_EQ(sink.str() == first, true) << CompressionName(c);
    }
    auto back = DecompressAll(first);
    ASSERT_TRUE(back.ok()) << back.error().message();
    EXPECT_TRUE(*back == data) << CompressionName(c);
    if (c == Compression::kGzip) {
      // Fixed header: no name, mtime 0, OS 255; and gzip(1) agrees on the content.
      EXPECT_EQ(first.substr(0, 10), std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10));
      EXPECT_TRUE(Tool("gzip -dc", first) == data);
    }
    if (c == Compression::kZstd) {
      EXPECT_TRUE(Tool("zstd -q -dc", first) == data);
    }
  }
}

}  // namespace
}  // namespace husk::archive
