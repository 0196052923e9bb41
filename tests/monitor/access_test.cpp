// SPDX-License-Identifier: MIT
// monitor/access.hpp: udev-like rules, their order, and the mode check (generic_permission).
#include <accel/monitor/access.hpp>

#include <doctest/doctest.h>

#include <fcntl.h>

namespace {

using accel::access_policy;
using accel::caller_identity;
using accel::may_open;
using accel::node_access;

caller_identity user(uid_t uid, gid_t gid) { return caller_identity{uid, 1, false, gid}; }

} // namespace

TEST_CASE("a rule line parses into matches and assignments") {
    auto r = access_policy::parse_rule(R"(KERNEL=="accel_controlD*", DRIVER=="vdnn", OWNER="0", GROUP="44", MODE="0640")");
    REQUIRE(r);
    CHECK(r->kernel == "accel_controlD*");
    CHECK(r->driver == "vdnn");
    CHECK(r->path.empty());
    CHECK(*r->owner == 0);
    CHECK(*r->group == 44);
    CHECK(*r->mode == 0640);
    // Names resolve through the user and group databases: root exists everywhere.
    auto named = access_policy::parse_rule(R"(PATH=="accel/*", OWNER="root", GROUP="root")");
    REQUIRE(named);
    CHECK(*named->owner == 0);
    CHECK(*named->group == 0);
    CHECK_FALSE(named->mode);
}

TEST_CASE("bad rule lines are -EINVAL") {
    for (const char* bad : {
             "",                                            // nothing
             R"(KERNEL=="accel0")",                         // no assignment
             R"(KERNEL="accel0", MODE="0600")",             // match key with an assignment operator
             R"(MODE=="0600")",                             // assignment key with a match operator
             R"(MODE="0600", MODE="0644")",                 // a key twice
             R"(NAME="x", MODE="0600")",                    // unknown key
             R"(MODE="0800")",                              // not octal
             R"(MODE="17777")",                             // beyond 07777
             R"(MODE=0600)",                                // unquoted
             R"(OWNER="no-such-user-accel-test")",          // unknown user
             R"(GROUP="no-such-group-accel-test")",         // unknown group
             R"(KERNEL=="accel0",, MODE="0600")",           // empty item
         }) {
        CAPTURE(bad);
        auto r = access_policy::parse_rule(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error() == -EINVAL);
    }
}

TEST_CASE("a rules file adds all its rules or none, naming the bad line") {
    access_policy p;
    unsigned bad = 0;
    CHECK(p.load_rules("# comment\n\nKERNEL==\"accel0\", MODE=\"0600\"\nMODE=\"9\"\n", &bad) == -EINVAL);
    CHECK(bad == 4);
    CHECK(p.rules().empty());
    CHECK(p.load_rules("# comment\n\nKERNEL==\"accel0\", MODE=\"0600\"\r\nKERNEL==\"accel1\", GROUP=\"0\"\n") == 0);
    CHECK(p.rules().size() == 2);
}

TEST_CASE("defaults, then server-wide node settings, then rules in order") {
    access_policy p;
    const node_access d = p.for_node("accel/accel0", "vdnn");
    CHECK(d.uid == 0);
    CHECK(d.gid == 0);
    CHECK(d.mode == 0666);
    p.set_node_defaults({0, 44, 0660});
    CHECK(p.for_node("accel/accel_controlD0", "vdnn").mode == 0660);
    CHECK(p.for_node("accel/accel_controlD0", "vdnn").gid == 44);
    // Attributes keep their declared mode; node settings do not reach them.
    CHECK(p.for_attribute("sys/class/accel/accel0/reset", "vdnn", 0200).mode == 0200);
    CHECK(p.for_attribute("sys/class/accel/accel0/reset", "vdnn", 0200).gid == 0);

    REQUIRE(p.load_rules(R"(KERNEL=="accel_controlD*", MODE="0644"
DRIVER=="vdsp", KERNEL=="accel*", GROUP="7"
PATH=="sys/class/accel/*/hwmon/*", MODE="0440"
KERNEL=="accel_controlD1", MODE="0600")") == 0);
    CHECK(p.for_node("accel/accel_controlD0", "vdnn").mode == 0644);
    CHECK(p.for_node("accel/accel_controlD1", "vdnn").mode == 0600); // the later rule wins
    CHECK(p.for_node("accel/accel0", "vdnn").mode == 0660);
    CHECK(p.for_node("accel/accel0", "vdsp").gid == 7);
    CHECK(p.for_node("accel/accel0", "vdnn").gid == 44);
    // KERNEL never matches an attribute; PATH globs cross '/'.
    CHECK(p.for_attribute("sys/class/accel/accel_controlD0", "vdnn", 0444).mode == 0444);
    CHECK(p.for_attribute("sys/class/accel/accel0/hwmon/hwmon0/temp1_input", "vdnn", 0444).mode == 0440);
}

TEST_CASE("may_open: owner, then group, then others, root passes") {
    const node_access a{1000, 100, 0640};
    CHECK(may_open(a, user(1000, 5), O_RDWR) == 0);
    CHECK(may_open(a, user(1000, 5), O_RDONLY) == 0);
    CHECK(may_open(a, user(2000, 100), O_RDONLY) == 0);
    CHECK(may_open(a, user(2000, 100), O_WRONLY) == -EACCES);
    CHECK(may_open(a, user(2000, 100), O_RDWR) == -EACCES);
    CHECK(may_open(a, user(2000, 5), O_RDONLY) == -EACCES);
    // The owner's bits decide for the owner even when the group's would allow more.
    CHECK(may_open(node_access{1000, 100, 0060}, user(1000, 100), O_RDONLY) == -EACCES);
    // A write-only attribute: writable by its owner, never readable.
    CHECK(may_open(node_access{0, 0, 0200}, user(0, 0), O_WRONLY) == 0);
    CHECK(may_open(node_access{0, 0, 0200}, user(2000, 0), O_WRONLY) == -EACCES);
    // Root (CAP_DAC_OVERRIDE) passes read and write checks.
    CHECK(may_open(node_access{1000, 100, 0000}, caller_identity{0, 1, true, 0}, O_RDWR) == 0);
    CHECK(may_open(node_access{0, 0, 0666}, user(2000, 5), O_RDWR) == 0);
}
