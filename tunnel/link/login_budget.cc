#include "tunnel/link/login_budget.h"

namespace strait::link {

bool LoginBudget::SourceFull(LoginPort port, std::uint64_t source) const {
  auto it = per_source_count_.find(SourceSlot(port, source));
  return it != per_source_count_.end() && it->second >= per_source_;
}

std::optional<std::uint64_t> LoginBudget::Admit(LoginPort port, std::uint64_t source, std::uint64_t login) {
  std::optional<std::uint64_t> evicted;
  auto& order = order_[Index(port)];
  if (order.size() >= per_port_ && !order.empty()) {
    evicted = order.front();
    Done(*evicted);
  }
  order.push_back(login);
  logins_[login] = Login{port, source, std::prev(order.end())};
  ++per_source_count_[SourceSlot(port, source)];
  return evicted;
}

void LoginBudget::Done(std::uint64_t login) {
  auto it = logins_.find(login);
  if (it == logins_.end()) return;
  const Login& l = it->second;
  order_[Index(l.port)].erase(l.pos);
  auto c = per_source_count_.find(SourceSlot(l.port, l.source));
  if (c != per_source_count_.end() && --c->second == 0) per_source_count_.erase(c);
  logins_.erase(it);
}

}  // namespace strait::link
