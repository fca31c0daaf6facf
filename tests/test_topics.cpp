// Text into counts, and topics that find the categories of Debian's fortunes.
#include <gmock/gmock.h>

#include <filesystem>
#include <map>

#include "helpers.hpp"
#include "text/corpus.hpp"

namespace {

using namespace testing_nmf;
namespace text = nmfuse::text;
using ::testing::ElementsAre;

TEST(Corpus, RecordsAreSplitOnPercentLines) {
  const auto records = text::split_records("one\nline\n%\n\n%\r\ntwo\n%\nthree", "f");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].text, "one\nline\n");
  EXPECT_EQ(records[1].text, "two\n");
  EXPECT_EQ(records[2].source, "f");
}

TEST(Corpus, TokensAreLowerCaseWordsWithoutStopWords) {
  EXPECT_THAT(text::tokenize("The Klingons don't like TRIBBLES, at all; 3 tribbles!"),
              ElementsAre("klingons", "tribbles", "tribbles"));
  EXPECT_THAT(text::tokenize("ab abc", 3), ElementsAre("abc"));
}

TEST(Corpus, CountsAreTermsByDocumentsWithinTheFrequencyLimits) {
  const std::vector<text::Document> docs{{"a", "apple apple pear"},
                                         {"b", "pear plum"},
                                         {"c", "apple plum cherry"},
                                         {"d", "pear banana"}};
  text::CorpusOptions opt;
  opt.min_documents = 2;
  opt.max_document_share = 0.6;  // pear is in 3 of 4: dropped
  const text::Corpus c = text::count_terms(docs, opt);
  EXPECT_THAT(c.terms, ElementsAre("apple", "plum"));
  const auto& A = c.counts;
  EXPECT_EQ(A.rows, 2);
  EXPECT_EQ(A.cols, 4);
  EXPECT_THAT(A.row_ptr, ElementsAre(0, 2, 4));
  EXPECT_THAT(A.col_idx, ElementsAre(0, 2, 1, 2));
  EXPECT_THAT(A.values, ElementsAre(2.0f, 1.0f, 1.0f, 1.0f));
  opt.min_documents = 5;
  EXPECT_THROW(text::count_terms(docs, opt), nmfuse::InvalidArgument);
}

// Four categories of fortunes (722 records) at rank 4: the main topic of each record
// groups them far better than chance. Purity (each topic counted as its commonest
// category) is 0.66 with the default start; chance (the largest category) is 0.31.
TEST(Topics, FortuneCategoriesSeparate) {
  const std::string dir = "/usr/share/games/fortunes";
  if (!std::filesystem::exists(dir + "/startrek"))
    GTEST_SKIP() << "Debian's fortunes is not installed (sudo apt install fortunes)";
  std::vector<std::string> files;
  for (const char* c : {"food", "startrek", "sports", "love"}) files.push_back(dir + "/" + c);
  const auto documents = text::read_documents(files);
  const text::Corpus corpus = text::count_terms(documents, {});
  nmfuse::Options opt = cpu_options(4);
  opt.loss = nmfuse::Loss::KullbackLeibler;
  opt.max_iter = 300;
  const auto r = nmfuse::factorize(corpus.counts.view(), opt);
  std::map<int, std::map<std::string, int>> by_topic;
  std::map<std::string, int> by_category;
  for (index_t d = 0; d < r.H.cols(); ++d) {
    int best = 0;
    for (int t = 1; t < 4; ++t)
      if (r.H(t, d) > r.H(best, d)) best = t;
    ++by_topic[best][documents[std::size_t(d)].source];
    ++by_category[documents[std::size_t(d)].source];
  }
  int agreeing = 0, largest = 0;
  for (const auto& [t, counts] : by_topic) {
    int most = 0;
    for (const auto& [c, n] : counts) most = std::max(most, n);
    agreeing += most;
  }
  for (const auto& [c, n] : by_category) largest = std::max(largest, n);
  const double purity = double(agreeing) / documents.size(), chance = double(largest) / documents.size();
  EXPECT_GT(purity, chance + 0.2) << "purity " << purity << ", chance " << chance;
}

}  // namespace
