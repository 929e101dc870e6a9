// tallyd's config file: every key reaches its option, relative paths are
// taken from the file's directory, and an unknown key, a wrong type, a value
// out of range or a syntax error is refused with file, line and column.
#include "daemon/config_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/files.h"

namespace tally::daemon {
namespace {

using tally::testing::TempDir;
using tally::testing::write_file;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class ConfigFileTest : public ::testing::Test {
 protected:
  // Writes `text` as DIR/etc/tallyd.toml and reads it; the path.
  std::string write_config(const std::string& text) {
    std::filesystem::create_directories(dir_ / "etc");
    const std::string path = (dir_ / "etc" / "tallyd.toml").string();
    write_file(path, text);
    return path;
  }

  // The refusal of a file holding `text`, or "" if it was taken.
  std::string refusal(const std::string& text) {
    const std::string path = write_config(text);
    DaemonOptions options;
    try {
      apply_config_file(path, options);
    } catch (const ConfigError& error) {
      return error.what();
    }
    return "";
  }

  TempDir dir_{"config"};
};

TEST_F(ConfigFileTest, EveryKeyReachesItsOption) {
  const std::string path = write_config(R"(
rules = "/etc/tally/rules.toml"
data_dir = "/var/lib/tally"
workers = 3
expected_subjects = 10000000
ingest_bind = "tcp://0.0.0.0:8001"
submit_bind = "tcp://0.0.0.0:8002"
query_bind = "tcp://127.0.0.1:8003"
alerts_bind = "tcp://0.0.0.0:8004"
metrics_listen = "0.0.0.0:9999"
max_line_bytes = 1024
purge_interval_s = 60
receive_high_water_mark = 50
journal = false
fsync = "interval"
fsync_interval_ms = 25
snapshot_interval = "2h"
snapshot_every = 1000
expiry_sweep = "0"
watch_rules = true
)");
  DaemonOptions options;
  apply_config_file(path, options);
  EXPECT_EQ(options.rules_path, "/etc/tally/rules.toml");
  EXPECT_EQ(options.data_dir, "/var/lib/tally");
  EXPECT_EQ(options.scorer.workers, 3u);
  EXPECT_EQ(options.scorer.expected_subjects, 10'000'000u);
  EXPECT_EQ(options.ingest.ingest_bind, "tcp://0.0.0.0:8001");
  EXPECT_EQ(options.ingest.submit_bind, "tcp://0.0.0.0:8002");
  EXPECT_EQ(options.query_bind, "tcp://127.0.0.1:8003");
  EXPECT_EQ(options.alerts_bind, "tcp://0.0.0.0:8004");
  EXPECT_EQ(options.metrics.listen, "0.0.0.0:9999");
  EXPECT_EQ(options.ingest.decoder.max_line_bytes, 1024u);
  EXPECT_EQ(options.scorer.worker.purge_interval_ms, 60'000);
  EXPECT_EQ(options.ingest.receive_high_water_mark, 50);
  EXPECT_FALSE(options.journal);
  EXPECT_EQ(options.scorer.worker.journal.fsync, storage::FsyncMode::kInterval);
  EXPECT_EQ(options.scorer.worker.journal.sync_interval_ms, 25);
  EXPECT_EQ(options.snapshot_interval_ms, 2 * 3600 * 1000);
  EXPECT_EQ(options.snapshot_every_records, 1000u);
  EXPECT_EQ(options.scorer.worker.expiry_sweep_interval_ms, 0);
  EXPECT_TRUE(options.watch_rules);
}

TEST_F(ConfigFileTest, KeysAbsentFromTheFileKeepTheirOption) {
  DaemonOptions options;
  options.query_bind = "tcp://127.0.0.1:1";
  apply_config_file(write_config("workers = 2\n"), options);
  EXPECT_EQ(options.scorer.workers, 2u);
  EXPECT_EQ(options.query_bind, "tcp://127.0.0.1:1");
  EXPECT_EQ(options.data_dir, DaemonOptions().data_dir);
}

TEST_F(ConfigFileTest, RelativePathsAreTakenFromTheFilesDirectory) {
  DaemonOptions options;
  apply_config_file(write_config("rules = \"rules/ny.toml\"\ndata_dir = \"../state\"\n"), options);
  EXPECT_EQ(options.rules_path, (dir_ / "etc" / "rules" / "ny.toml").string());
  EXPECT_EQ(options.data_dir, (dir_ / "state").string());
  // An absolute path is kept as it is.
  apply_config_file(write_config("rules = \"/srv/rules.toml\"\n"), options);
  EXPECT_EQ(options.rules_path, "/srv/rules.toml");
}

TEST_F(ConfigFileTest, AnUnknownKeyIsRefusedWithFileLineAndTheKeysThatExist) {
  const std::string path = (dir_ / "etc" / "tallyd.toml").string();
  const std::string error = refusal("workers = 2\n\nworker_count = 4\n");
  EXPECT_THAT(error, StartsWith(path + ":3:16: unknown key `worker_count`")) << error;
  EXPECT_THAT(error, HasSubstr("expected rules, data_dir, workers,")) << error;
  EXPECT_THAT(error, HasSubstr("watch_rules, nats, stream, partitions, node)")) << error;
}

TEST_F(ConfigFileTest, AWrongTypeIsRefusedWithFileLineAndWhatIsExpected) {
  const std::string path = (dir_ / "etc" / "tallyd.toml").string();
  EXPECT_EQ(refusal("workers = \"two\"\n"), path + ":1:11: `workers` must be a positive integer");
  EXPECT_EQ(refusal("\nquery_bind = 7003\n"), path + ":2:14: `query_bind` must be a string");
  EXPECT_EQ(refusal("journal = \"yes\"\n"), path + ":1:11: `journal` must be true or false");
  EXPECT_EQ(refusal("rules = [\"a.toml\"]\n"), path + ":1:9: `rules` must be a string");
}

TEST_F(ConfigFileTest, AValueOutOfItsRangeIsRefusedWithFileAndLine) {
  const std::string path = (dir_ / "etc" / "tallyd.toml").string();
  EXPECT_EQ(refusal("workers = 0\n"), path + ":1:11: `workers` must be a positive integer");
  EXPECT_EQ(refusal("workers = 5000\n"), path + ":1:11: `workers` must be at most 4096");
  EXPECT_EQ(refusal("fsync = \"always\"\n"),
            path + ":1:9: `fsync` must be \"batch\", \"interval\" or \"none\"");
  EXPECT_THAT(refusal("snapshot_interval = \"0s\"\n"),
              StartsWith(path + ":1:21: `snapshot_interval` must be a duration"));
  EXPECT_THAT(refusal("expiry_sweep = \"soon\"\n"),
              StartsWith(path + ":1:16: `expiry_sweep` must be a duration"));
}

TEST_F(ConfigFileTest, ASyntaxErrorIsRefusedWithFileAndLine) {
  const std::string path = (dir_ / "etc" / "tallyd.toml").string();
  EXPECT_THAT(refusal("workers = 2\nrules = \n"), StartsWith(path + ":2:"));
}

TEST_F(ConfigFileTest, AMissingFileIsRefusedNamingIt) {
  DaemonOptions options;
  const std::string path = (dir_ / "absent.toml").string();
  try {
    apply_config_file(path, options);
    ADD_FAILURE() << "a missing file was taken";
  } catch (const ConfigError& error) {
    EXPECT_THAT(error.what(), HasSubstr(path));
  }
}

TEST(DurationFlagsTest, ExpirySweepTakesADurationOrZero) {
  EXPECT_EQ(*parse_expiry_sweep_ms("10s"), 10'000);
  EXPECT_EQ(*parse_expiry_sweep_ms("1m"), 60'000);
  EXPECT_EQ(*parse_expiry_sweep_ms("0"), 0);
  EXPECT_FALSE(parse_expiry_sweep_ms("ten seconds").is_ok());
  EXPECT_FALSE(parse_expiry_sweep_ms("").is_ok());
}

TEST(DurationFlagsTest, SnapshotIntervalMustBePositive) {
  EXPECT_EQ(*parse_snapshot_interval_ms("30s"), 30'000);
  EXPECT_EQ(*parse_snapshot_interval_ms("1h"), 3'600'000);
  EXPECT_FALSE(parse_snapshot_interval_ms("0").is_ok());
  EXPECT_FALSE(parse_snapshot_interval_ms("0s").is_ok());
  EXPECT_FALSE(parse_snapshot_interval_ms("-5m").is_ok());
}

}  // namespace
}  // namespace tally::daemon
