// The SqliteStore class behind OpenSqliteStore (sqlite_store.h): shared by the store and its transactions.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "control-plane/store/sqlite_db.h"
#include "control-plane/store/sqlite_store.h"

namespace strait::control::store {

class SqliteStore final : public Store {
 public:
  SqliteStore(std::unique_ptr<Connection> writer, std::vector<std::unique_ptr<Connection>> readers,
              const SqliteOptions& options, EventId last_event);

  StoreResult<std::unique_ptr<ReadTx>> Read() override;
  StoreResult<std::unique_ptr<WriteTx>> Write() override;
  EventId LastEventId() const override { return last_event_.load(std::memory_order_acquire); }

  // From the transactions:
  void ReleaseReader(Connection& conn);      // [any] a read transaction ended
  void EventsCommitted(EventId last);        // under the writer mutex, after COMMIT

 private:
  // Immutable after construction.
  const Limits limits_;
  const std::chrono::milliseconds busy_wait_;
  const std::unique_ptr<Connection> writer_;
  const std::vector<std::unique_ptr<Connection>> readers_;

  // The writer connection belongs to whoever holds writer_mu_ (a SqliteWriteTx, for its whole life).
  std::timed_mutex writer_mu_;

  // Guarded by pool_mu_: the reader connections not lent to a read transaction.
  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<Connection*> free_readers_;

  std::atomic<EventId> last_event_;
};

}  // namespace strait::control::store
