#include "zip_archive.hpp"

#include <zip.h>

#include <memory>

#include "nmfuse/errors.hpp"
#include "reading.hpp"

namespace nmfuse::io {
namespace {

// Deflate packs at most ~1032 bytes into one: a member that unpacks to more than that
// (plus a little) is a bomb, not data.
constexpr std::size_t kMaxRatio = 1032, kSlack = std::size_t(1) << 20;

}  // namespace

ZipReader::ZipReader(std::string_view bytes, const std::string& name) : name_(name) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  if (source) archive_ = zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error);
  if (!archive_) {
    if (source) zip_source_free(source);
    const std::string why = zip_error_strerror(&error);
    zip_error_fini(&error);
    bad(name, "not a readable zip archive: " + why);
  }
  zip_error_fini(&error);
}

ZipReader::~ZipReader() { zip_discard(archive_); }

bool ZipReader::has(const std::string& member) const {
  return zip_name_locate(archive_, member.c_str(), 0) >= 0;
}

std::string ZipReader::read(const std::string& member) const {
  std::string bytes;
  read_each(member, [&](std::string_view piece) { bytes.append(piece); });
  return bytes;
}

void ZipReader::read_each(const std::string& member,
                          const std::function<void(std::string_view)>& piece) const {
  zip_file_t* file = zip_fopen(archive_, member.c_str(), 0);
  if (!file) bad(name_, "has no " + member);
  std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> closer(file, zip_fclose);
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat(archive_, member.c_str(), 0, &stat) != 0 || !(stat.valid & ZIP_STAT_COMP_SIZE))
    bad(name_, member + " has no readable size");
  const std::size_t most = kMaxRatio * std::size_t(stat.comp_size) + kSlack;
  std::size_t total = 0;
  char chunk[1 << 16];
  while (true) {
    const zip_int64_t got = zip_fread(file, chunk, sizeof chunk);
    if (got < 0)
      bad(name_, member + " cannot be read: " + zip_error_strerror(zip_file_get_error(file)));
    if (got == 0) break;
    total += std::size_t(got);
    if (total > most)
      bad(name_, member + " unpacks to more than deflate could have packed into " +
                     std::to_string(stat.comp_size) + " bytes");
    piece(std::string_view(chunk, std::size_t(got)));
  }
}

std::size_t ZipReader::size(const std::string& member) const {
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat(archive_, member.c_str(), 0, &stat) != 0 || !(stat.valid & ZIP_STAT_SIZE))
    bad(name_, member + " has no readable size");
  return std::size_t(stat.size);
}

std::string zip_archive(const std::vector<std::pair<std::string, std::string>>& members) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* out = zip_source_buffer_create(nullptr, 0, 0, &error);
  zip_t* archive = out ? zip_open_from_source(out, ZIP_TRUNCATE, &error) : nullptr;
  if (!archive) {
    if (out) zip_source_free(out);
    const std::string why = zip_error_strerror(&error);
    zip_error_fini(&error);
    throw IoError("cannot make a zip archive: " + why);
  }
  zip_error_fini(&error);
  zip_source_keep(out);  // zip_close writes into it; we read it after
  auto fail = [&](const std::string& what) {
    const std::string why = zip_strerror(archive);
    zip_discard(archive);
    zip_source_free(out);
    throw IoError("cannot make a zip archive: " + what + ": " + why);
  };
  for (const auto& [name, bytes] : members) {
    zip_source_t* member = zip_source_buffer(archive, bytes.data(), bytes.size(), 0);
    if (!member) fail(name);
    const zip_int64_t at = zip_file_add(archive, name.c_str(), member, ZIP_FL_OVERWRITE);
    if (at < 0) {
      zip_source_free(member);
      fail(name);
    }
    if (zip_set_file_compression(archive, zip_uint64_t(at), ZIP_CM_STORE, 0) != 0) fail(name);
  }
  if (zip_close(archive) != 0) fail("writing");
  std::string bytes;
  zip_stat_t stat;
  if (zip_source_open(out) != 0 || zip_source_stat(out, &stat) != 0) {
    zip_source_free(out);
    throw IoError("cannot read back the zip archive made in memory");
  }
  bytes.resize(std::size_t(stat.size));
  const zip_int64_t got = zip_source_read(out, bytes.data(), bytes.size());
  zip_source_close(out);
  zip_source_free(out);
  if (got != zip_int64_t(bytes.size())) throw IoError("cannot read back the zip archive made in memory");
  return bytes;
}

}  // namespace nmfuse::io
