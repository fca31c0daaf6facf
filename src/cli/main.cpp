// The nmfuse command: `factor` for a matrix file, `images` for a stack of pictures,
// `rank` to choose the rank, `demo` for the demos on data that nmfuse makes or Debian
// ships. Exit codes: 0 done, 2 bad usage, 3 bad input or an unwritable output, 4 device
// unavailable, not compiled or out of GPU memory, 5 interrupted by SIGINT or SIGTERM (a
// checkpoint written), 1 internal failure.
#include "cli/commands.hpp"
#include "cli/run.hpp"

namespace {

using namespace nmfuse::cli;

void print_version() {
  const nmfuse::BuildInfo info = nmfuse::build_info();
  std::cout << "nmfuse " << info.version << "\n"
            << "backends: cpu" << (info.cuda_compiled ? ", cuda" : "") << "\n"
            << "BLAS: " << info.blas << "\n"
#ifdef NMFUSE_HAVE_AUDIO
            << "sound: libsndfile, FFTW, FluidSynth\n"
#else
            << "sound: not built (libsndfile1-dev, libfftw3-dev, libfluidsynth-dev missing)\n"
#endif
            << "GPU: " << (info.cuda_compiled ? info.gpu_status : "not compiled") << "\n";
  if (!info.blas_kernels.empty()) std::cout << "BLAS kernels: " << info.blas_kernels << "\n";
  if (!info.blas_kernels_selected.empty())
    std::cout << "BLAS kernels chosen: " << info.blas_kernels_selected << "\n";
  if (!info.blas_slower.empty()) std::cout << "warning: slower BLAS kernels: " << info.blas_slower << "\n";
  std::cout << "dense products: " << info.dense_products << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"nmfuse: non-negative matrix factorization V ≈ WH on GPUs and CPUs"};
  app.require_subcommand(0, 1);
  bool version = false;
  app.add_flag("--version", version, "print the version, backends and BLAS");

  CommonFlags factor_flags;
  std::string input;
  nmfuse::Absent absent = nmfuse::Absent::Zero;
  const std::map<std::string, nmfuse::Absent> absent_names{{"zero", nmfuse::Absent::Zero},
                                                           {"unknown", nmfuse::Absent::Unknown}};
  CLI::App* factor = app.add_subcommand(
      "factor", "factor a matrix file: dense .npy or .csv, sparse .mtx or .npz (scipy.sparse)");
  factor->add_option("INPUT", input, "the matrix V (m×n, non-negative)")->required();
  factor->add_option("--absent", absent,
                     "sparse V: its absent entries are zeros (zero) or missing values (unknown)")
      ->transform(CLI::CheckedTransformer(absent_names));
  factor->add_option("--rank", factor_flags.opt.rank, "k, the inner dimension")->required();
  factor->add_option("--mask", factor_flags.mask_path,
                     "a .npy or .csv of V's shape whose non-zero entries are the observed ones");
  std::string grid;
  factor->add_option("--grid", grid,
                     "under mpirun: the processes as ROWSxCOLS, V's rows split over ROWS and its "
                     "columns over COLS (default: the grid that moves the fewest words)");
  add_common_flags(*factor, factor_flags, true);

  CommonFlags images_flags;
  images_flags.out_dir = "nmfuse-images";
  std::string images_input;
  CLI::App* images = app.add_subcommand(
      "images", "factor a stack of grayscale images into parts: a folder of .png/.pgm files, "
                "a .npy stack or an IDX file (MNIST's format, .gz or not)");
  images->add_option("INPUT", images_input, "the images")->required();
  images->add_option("--rank", images_flags.opt.rank, "k, the number of parts")->required();
  images->add_option("--limit", images_flags.image_limit, "read at most this many images (0: all)");
  add_common_flags(*images, images_flags, false);

  CommonFlags topics_flags;
  topics_flags.out_dir = "nmfuse-topics";
  std::vector<std::string> topics_inputs;
  nmfuse::text::CorpusOptions corpus_options;
  int top_words = 10;
  CLI::App* topics = app.add_subcommand(
      "topics", "find topics in text: folders of text files (a document each) or files of "
                "records separated by a line '%' (Debian's fortunes)");
  topics->add_option("INPUT", topics_inputs, "folders or record files")->required();
  topics->add_option("--rank", topics_flags.opt.rank, "k, the number of topics")->required();
  topics->add_option("--min-documents", corpus_options.min_documents,
                     "drop terms in fewer documents")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  topics->add_option("--max-share", corpus_options.max_document_share,
                     "drop terms in more than this share of the documents")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  topics->add_option("--top-words", top_words, "words shown per topic")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  add_common_flags(*topics, topics_flags, false);

  CommonFlags audio_flags;
  audio_flags.out_dir = "nmfuse-audio";
  std::string audio_input;
  CLI::App* audio = app.add_subcommand(
      "audio", "split a sound (WAV, FLAC, OGG) into note templates and their activations");
  audio->add_option("INPUT", audio_input, "the sound file")->required();
  audio->add_option("--rank", audio_flags.opt.rank, "k, the number of templates")->required();
  add_common_flags(*audio, audio_flags, false);

  CommonFlags rank_flags;
  rank_flags.out_dir = "nmfuse-rank";
  std::string rank_input, rank_list = "2:10";
  nmfuse::SurveyOptions survey;
  nmfuse::Absent rank_absent = nmfuse::Absent::Zero;
  CLI::App* rank = app.add_subcommand(
      "rank", "survey ranks: restarts (their consensus) and held-out error at each rank, "
              "and a suggested rank; dense .npy or .csv, sparse .mtx or .npz");
  rank->add_option("INPUT", rank_input, "the matrix V (m×n, non-negative; samples are columns)")
      ->required();
  rank->add_option("--ranks", rank_list, "FIRST:LAST or K,K,…")->capture_default_str();
  rank->add_option("--restarts", survey.restarts, "fits per rank from random starts")
      ->capture_default_str();
  rank->add_option("--absent", rank_absent,
                   "sparse V: its absent entries are zeros (zero) or missing values (unknown)")
      ->transform(CLI::CheckedTransformer(absent_names));
  rank->add_option("--mask", rank_flags.mask_path,
                   "a .npy or .csv of V's shape whose non-zero entries are the observed ones");
  rank->add_option("--holdout", survey.holdout,
                   "the fraction of entries each split hides (of the observed or stored ones "
                   "for a masked or sparse V)")
      ->capture_default_str();
  rank->add_option("--splits", survey.splits, "held-out splits per rank")->capture_default_str();
  rank->add_option("--out", rank_flags.out_dir, "folder for rank.json and consensus_K.npy")
      ->capture_default_str();
  add_solver_flags(*rank, rank_flags);

  CommonFlags demo_flags;
  std::string demo_name;
  CLI::App* demo = app.add_subcommand(
      "demo", "run a demo: swimmer (generated), fashion (Debian's dataset-fashion-mnist), "
              "text (Debian's fortunes), music (a melody rendered with Debian's "
              "fluid-soundfont-gm)");
  demo->add_option("NAME", demo_name, "swimmer, fashion, text or music")
      ->required()
      ->check(CLI::IsMember({"swimmer", "fashion", "text", "music"}));
  demo->add_option("--rank", demo_flags.opt.rank,
                   "k (default: 17 for swimmer, 16 for fashion, 4 for text and music)");
  demo->add_option("--limit", demo_flags.image_limit, "fashion: images read (default 2000)");
  add_common_flags(*demo, demo_flags, false);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kOk : kUsage;
  }

  stop_on_signals();
  try {
    if (version) {
      print_version();
      return kOk;
    }
    if (*factor) {
      nmfuse::set_cpu_threads(factor_flags.threads);
      if (!grid.empty() || launched_by_mpirun())
        return run_distributed_factor(input, grid, absent, factor_flags);
      if (nmfuse::io::is_sparse_file(input)) {
        factor_sparse(nmfuse::io::read_sparse(input), input, absent, factor_flags);
        return kOk;
      }
      if (maps_input(input, factor_flags.opt)) {  // V stays in the file, read block by block
        const nmfuse::io::MappedNpy mapped(input);
        std::visit([&](auto V) { factor_dense(V, input, factor_flags); }, mapped.view());
        return kOk;
      }
      const nmfuse::io::AnyMatrix V = nmfuse::io::read_matrix(input);
      std::visit(
          [&](const auto& A) {
            using T = typename std::decay_t<decltype(A)>::value_type;
            if constexpr (std::is_same_v<T, std::uint8_t>)
              throw nmfuse::InvalidArgument(input + ": a uint8/bool matrix is a mask, not V");
            else
              factor_dense(A, input, factor_flags);
          },
          V);
      return kOk;
    }
    if (*images) {
      nmfuse::set_cpu_threads(images_flags.threads);
      return run_images(nmfuse::io::read_images(images_input, images_flags.image_limit),
                        images_input, images_flags);
    }
    if (*topics) {
      nmfuse::set_cpu_threads(topics_flags.threads);
      return run_topics(topics_inputs, corpus_options, top_words, topics_flags, *topics);
    }
    if (*audio) {
      nmfuse::set_cpu_threads(audio_flags.threads);
      return run_audio(audio_input, audio_flags, *audio);
    }
    if (*rank) {
      nmfuse::set_cpu_threads(rank_flags.threads);
      survey.ranks = parse_ranks(rank_list);
      return run_rank(rank_input, rank_absent, survey, rank_flags);
    }
    if (*demo) {
      nmfuse::set_cpu_threads(demo_flags.threads);
      return run_demo(demo_name, demo_flags, *demo);
    }
    std::cout << app.help();
    return kUsage;
  } catch (const std::exception& e) {
    return report_failure(e, "nmfuse: ");
  }
}
