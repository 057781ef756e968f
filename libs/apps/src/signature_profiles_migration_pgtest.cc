// Migration 0006 against a real Postgres: an app stored with the deprecated
// compat_signature_header comes back with the profiles that send what it sent before.

#include <vector>

#include "gtest/gtest.h"
#include "hookd/apps/app_store.h"
#include "hookd/apps/validation.h"
#include "hookd/crypto/secret_box.h"
#include "hookd/crypto/signing.h"
#include "hookd/db/migrations.h"
#include "hookd/testing/test_database.h"
#include "hookd/testing/testing.h"

namespace hookd::apps {
namespace {

TEST(SignatureProfilesMigration, TurnsTheCompatHeaderIntoTheProfilesResolveMakes) {
  auto db = testing::TestDatabase::Create("profiles_migration");
  ASSERT_TRUE(db.ok()) << db.status();
  const std::vector<db::Migration>& all = db::BuiltinMigrations();
  std::vector<db::Migration> before;
  for (const db::Migration& m : all) {
    if (m.version < 6) before.push_back(m);
  }
  ASSERT_EQ(before.size(), 5u);
  ASSERT_TRUE(db::Migrate((*db)->url(), before).ok());

  auto pool = db::PgPool::Create({.url = (*db)->url(), .pool_size = 2});
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto box = SecretBox::Create(testing::kTestMasterKey);
  ASSERT_TRUE(box.ok()) << box.status();
  std::unique_ptr<AppStore> store = NewPgAppStore(**pool, **box);

  // As hookd stored it before profiles existed: the compat header in the config.
  v1::App legacy;
  legacy.set_id("app_legacy");
  legacy.set_tenant("acme");
  legacy.set_name("legacy");
  legacy.set_url("https://hooks.example.com/x");
  legacy.add_event_types("video.ready");
  legacy.set_compat_signature_header("X-Hub-Signature-256");
  legacy.set_active(true);
  ApplyDefaults(legacy);
  v1::SigningKey* key = legacy.add_signing_keys();
  key->set_id("key_1");
  key->set_secret(NewSigningSecret());
  v1::App plain = legacy;
  plain.set_id("app_plain");
  plain.clear_compat_signature_header();
  auto stored_legacy = store->Create(legacy);
  ASSERT_TRUE(stored_legacy.ok()) << stored_legacy.status();
  auto stored_plain = store->Create(plain);
  ASSERT_TRUE(stored_plain.ok()) << stored_plain.status();

  ASSERT_TRUE(db::Migrate((*db)->url()).ok());

  auto migrated = store->Get("app_legacy");
  ASSERT_TRUE(migrated.ok()) << migrated.status();
  v1::App expected = *stored_legacy;
  ResolveSignatureProfiles(expected);
  EXPECT_EQ(migrated->compat_signature_header(), "");
  ASSERT_EQ(migrated->signature_profiles_size(), 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(migrated->signature_profiles(i).DebugString(),
              expected.signature_profiles(i).DebugString());
  }
  EXPECT_GT(migrated->version(), stored_plain->version());  // caches reload it
  EXPECT_EQ(migrated->signing_keys(0).secret(), legacy.signing_keys(0).secret());

  auto untouched = store->Get("app_plain");
  ASSERT_TRUE(untouched.ok()) << untouched.status();
  EXPECT_EQ(untouched->signature_profiles_size(), 0);
  EXPECT_EQ(untouched->version(), stored_plain->version());
}

}  // namespace
}  // namespace hookd::apps
