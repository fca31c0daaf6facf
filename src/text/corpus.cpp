#include "text/corpus.hpp"

#include <algorithm>
#include <cctype>
#include <climits>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>

#include "io/atomic_file.hpp"
#include "nmfuse/errors.hpp"

namespace nmfuse::text {
namespace {

// Common English words that carry no topic (a short list in the spirit of
// scikit-learn's ENGLISH_STOP_WORDS, written here).
const std::set<std::string>& stop_words() {
  static const std::set<std::string> words{
      "about", "above", "after", "again", "against", "all", "also", "although", "always", "among",
      "and", "another", "any", "are", "around", "because", "been", "before", "being", "below",
      "between", "both", "but", "can", "cannot", "could", "did", "does", "doing", "done", "down",
      "during", "each", "either", "else", "ever", "every", "few", "for", "from", "further", "get",
      "gets", "got", "had", "has", "have", "having", "her", "here", "hers", "herself", "him",
      "himself", "his", "how", "however", "into", "its", "itself", "just", "less", "let", "like",
      "made", "make", "many", "may", "more", "most", "much", "must", "myself", "neither", "never",
      "nor", "not", "now", "off", "once", "one", "only", "other", "others", "our", "ours",
      "ourselves", "out", "over", "own", "per", "perhaps", "rather", "said", "same", "say",
      "says", "see", "seem", "seems", "several", "shall", "she", "should", "since", "some",
      "still", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then",
      "there", "therefore", "these", "they", "thing", "things", "this", "those", "though",
      "through", "thus", "too", "two", "under", "until", "upon", "very", "was", "way", "well",
      "were", "what", "whatever", "when", "where", "whether", "which", "while", "who", "whom",
      "whose", "why", "will", "with", "within", "without", "would", "yet", "you", "your",
      "yours", "yourself", "yourselves", "dont", "doesnt", "didnt", "isnt", "wasnt", "cant",
      "wont", "youre", "thats", "theres", "ive", "youve", "hes", "shes", "lets"};
  return words;
}

bool is_separator(const std::string& line) {
  std::size_t end = line.size();
  while (end > 0 && (line[end - 1] == '\r' || line[end - 1] == ' ')) --end;
  return end == 1 && line[0] == '%';
}

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

}  // namespace

std::vector<Document> split_records(const std::string& contents, const std::string& source) {
  std::vector<Document> records;
  std::string current;
  std::size_t pos = 0;
  while (pos <= contents.size()) {
    const std::size_t end = std::min(contents.find('\n', pos), contents.size());
    const std::string line = contents.substr(pos, end - pos);
    if (is_separator(line)) {
      if (!blank(current)) records.push_back({source, current});
      current.clear();
    } else {
      current += line;
      current += '\n';
    }
    pos = end + 1;
  }
  if (!blank(current)) records.push_back({source, current});
  return records;
}

std::vector<Document> read_documents(const std::vector<std::string>& paths) {
  std::vector<Document> documents;
  for (const std::string& path : paths) {
    if (std::filesystem::is_directory(path)) {
      std::vector<std::string> files;
      for (const auto& entry : std::filesystem::directory_iterator(path))
        if (entry.is_regular_file()) files.push_back(entry.path().string());
      std::sort(files.begin(), files.end());
      for (const std::string& file : files) documents.push_back({file, io::read_file(file)});
    } else {
      const std::vector<Document> records = split_records(io::read_file(path), path);
      documents.insert(documents.end(), records.begin(), records.end());
    }
  }
  if (documents.empty()) throw InvalidArgument("no documents in the input (empty files or folders)");
  return documents;
}

std::vector<std::string> tokenize(const std::string& text, std::size_t min_length) {
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    if (word.size() >= min_length && !stop_words().count(word)) words.push_back(word);
    word.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (std::isalpha(c) && c < 128) {
      word += char(std::tolower(c));
    } else if (c == '\'' && !word.empty() && i + 1 < text.size() &&
               std::isalpha(static_cast<unsigned char>(text[i + 1]))) {
      continue;  // inside a word: don't → dont
    } else {
      flush();
    }
  }
  flush();
  return words;
}

Corpus count_terms(const std::vector<Document>& documents, const CorpusOptions& options) {
  // Each document's term counts, and each term's document frequency.
  std::vector<std::map<std::string, int>> counts(documents.size());
  std::unordered_map<std::string, int> document_frequency;
  for (std::size_t d = 0; d < documents.size(); ++d) {
    for (const std::string& w : tokenize(documents[d].text)) ++counts[d][w];
    for (const auto& [w, c] : counts[d]) ++document_frequency[w];
  }
  const double most = options.max_document_share * double(documents.size());
  Corpus corpus;
  for (const auto& [w, df] : document_frequency)
    if (df >= options.min_documents && double(df) <= most) corpus.terms.push_back(w);
  std::sort(corpus.terms.begin(), corpus.terms.end());
  if (corpus.terms.empty())
    throw InvalidArgument("no term is in at least " + std::to_string(options.min_documents) +
                          " and at most " + std::to_string(int(options.max_document_share * 100)) +
                          "% of the " + std::to_string(documents.size()) + " documents");
  std::unordered_map<std::string, std::int32_t> index;
  for (std::size_t t = 0; t < corpus.terms.size(); ++t) index[corpus.terms[t]] = std::int32_t(t);

  // Rows are terms: bucket the (term, document) counts by term; documents come in order.
  std::vector<std::vector<std::pair<std::int32_t, float>>> rows(corpus.terms.size());
  for (std::size_t d = 0; d < documents.size(); ++d)
    for (const auto& [w, c] : counts[d]) {
      const auto it = index.find(w);
      if (it != index.end()) rows[std::size_t(it->second)].emplace_back(std::int32_t(d), float(c));
    }
  CsrMatrix<float, std::int32_t>& A = corpus.counts;
  A.rows = index_t(corpus.terms.size());
  A.cols = index_t(documents.size());
  for (const auto& row : rows) {
    for (const auto& [d, c] : row) {
      A.col_idx.push_back(d);
      A.values.push_back(c);
    }
    if (A.col_idx.size() > std::size_t(INT32_MAX))
      throw InvalidArgument("the documents hold more than 2³¹ − 1 (term, document) counts");
    A.row_ptr.push_back(std::int32_t(A.col_idx.size()));
  }
  return corpus;
}

}  // namespace nmfuse::text
