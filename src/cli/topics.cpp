#include <algorithm>
#include <numeric>
#include <sstream>

#include "cli/commands.hpp"
#include "io/plots.hpp"
#include "text/corpus.hpp"

namespace nmfuse::cli {

int run_topics(const std::vector<std::string>& paths, const text::CorpusOptions& corpus_options,
               int top_words, CommonFlags& f, const CLI::App& given) {
  if (!given.count("--loss")) f.opt.loss = Loss::KullbackLeibler;
  const std::vector<text::Document> documents = text::read_documents(paths);
  const text::Corpus corpus = text::count_terms(documents, corpus_options);
  const CsrMatrix<float, std::int32_t>& V = corpus.counts;
  InputInfo in{paths.size() == 1 ? paths[0] : paths[0] + " and " + std::to_string(paths.size() - 1) + " more",
               V.rows, V.cols, "float32"};
  in.sparse = {{"stored", V.values.size()}, {"index_bits", 32}, {"absent", "zero"},
               {"terms", corpus.terms.size()}, {"documents", documents.size()}};
  const Result<float> r = factor_and_write<float>(in, f, fits_of(V.view()));

  // Each topic's top words, by their weight in its column of W.
  const int k = int(r.W.cols());
  std::ostringstream topics;
  std::vector<std::string> labels;  // "3: dog drink yogi", beside its row of documents.png
  for (int t = 0; t < k; ++t) {
    std::vector<index_t> order(std::size_t(r.W.rows()));
    std::iota(order.begin(), order.end(), 0);
    const std::size_t shown = std::min<std::size_t>(std::size_t(top_words), order.size());
    std::partial_sort(order.begin(), order.begin() + long(shown), order.end(),
                      [&](index_t a, index_t b) { return r.W(a, t) > r.W(b, t); });
    topics << "topic " << t << ":";
    labels.push_back(std::to_string(t) + ":");
    for (std::size_t w = 0; w < shown; ++w) {
      topics << " " << corpus.terms[std::size_t(order[w])];
      if (w < 3) labels.back() += " " + corpus.terms[std::size_t(order[w])];
    }
    topics << "\n";
  }
  // Each document's topic weights (summing to 1) and its main topic.
  std::ostringstream table;
  table << "document,source,main_topic";
  for (int t = 0; t < k; ++t) table << ",topic_" << t;
  table << "\n";
  for (index_t d = 0; d < r.H.cols(); ++d) {
    double total = 0;
    int main_topic = 0;
    for (int t = 0; t < k; ++t) {
      total += r.H(t, d);
      if (r.H(t, d) > r.H(main_topic, d)) main_topic = t;
    }
    std::string source = documents[std::size_t(d)].source;
    std::replace(source.begin(), source.end(), ',', ';');
    table << d << "," << source << "," << main_topic;
    for (int t = 0; t < k; ++t) table << "," << (total > 0 ? r.H(t, d) / total : 0.0);
    table << "\n";
  }
  std::string vocabulary;
  for (const std::string& term : corpus.terms) vocabulary += term + "\n";
  io::write_topic_weights_plot(join(f.out_dir, "documents.png"), r.H, labels,
                               "each document's topics: " + in.name);
  io::write_atomically(join(f.out_dir, "topics.txt"), topics.str());
  io::write_atomically(join(f.out_dir, "documents.csv"), table.str());
  io::write_atomically(join(f.out_dir, "vocabulary.txt"), vocabulary);
  if (!f.quiet && !f.json)
    std::cout << documents.size() << " documents, " << corpus.terms.size() << " terms\n"
              << topics.str() << "wrote " << join(f.out_dir, "topics.txt")
              << ", documents.csv, documents.png, vocabulary.txt, W.npy (terms × topics) and "
                 "H.npy\n";
  return kOk;
}

}  // namespace nmfuse::cli
