#pragma once
// Text into a sparse term × document count matrix, for `nmfuse topics`: documents from
// folders of text files or files of records separated by a line "%" (the fortune
// format), words by a plain tokenizer with English stop words and document-frequency
// limits.
#include <cstdint>
#include <string>
#include <vector>

#include "nmfuse/sparse.hpp"

namespace nmfuse::text {

struct Document {
  std::string source;  // the file it came from
  std::string text;
};

// The records of a fortune-style file: separated by lines holding only "%"; blank
// records are dropped.
std::vector<Document> split_records(const std::string& contents, const std::string& source);

// Each path: a folder (every regular file in it one document, by name) or a file (its
// records, or the whole file if it has no "%" line).
std::vector<Document> read_documents(const std::vector<std::string>& paths);

// Lower-case words of ASCII letters (apostrophes inside dropped: "don't" → "dont"), at
// least min_length letters, English stop words removed.
std::vector<std::string> tokenize(const std::string& text, std::size_t min_length = 3);

struct CorpusOptions {
  int min_documents = 2;           // a term in fewer documents is dropped
  double max_document_share = 0.5;  // a term in more than this share of them too
};

struct Corpus {
  std::vector<std::string> terms;         // sorted
  CsrMatrix<float, std::int32_t> counts;  // terms × documents
};

Corpus count_terms(const std::vector<Document>& documents, const CorpusOptions& options);

}  // namespace nmfuse::text
