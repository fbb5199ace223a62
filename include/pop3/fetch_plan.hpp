// pop3/fetch_plan.hpp: kept so existing code compiles; the policy and the planner now live
// in <pop3/leave_on_server/policy.hpp> and <pop3/leave_on_server/plan.hpp>.
#ifndef POP3_FETCH_PLAN_HPP
#define POP3_FETCH_PLAN_HPP

#include <pop3/leave_on_server/plan.hpp>
#include <pop3/leave_on_server/policy.hpp>
#include <pop3/uid_store.hpp>

#endif // POP3_FETCH_PLAN_HPP
