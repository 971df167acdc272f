"""The wrong-password limiter (issue 16: D5): per (username, address) with growing locks, a per-address
ceiling, and a table that forgets."""

from app.auth import LoginLimiter


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(clock, **kw) -> LoginLimiter:
    return LoginLimiter(max_failures=3, window_s=300, clock=clock, **kw)


def test_wrong_passwords_from_one_address_do_not_lock_the_account_elsewhere():
    clock = Clock()
    limits = limiter(clock)
    for _ in range(3):
        limits.failed("admin", "10.0.0.66")
    assert limits.wait_s("admin", "10.0.0.66") == 300
    assert limits.wait_s("admin", "10.0.0.1") == 0  # the owner, from their own address
    assert limits.wait_s("ann", "10.0.0.66") == 0


def test_each_further_lock_of_a_pair_lasts_twice_as_long_up_to_a_ceiling():
    clock = Clock()
    limits = limiter(clock)
    served = []
    for _ in range(7):
        for _ in range(3):
            limits.failed("admin", "10.0.0.66")
        served.append(limits.wait_s("admin", "10.0.0.66"))
        clock.now += served[-1]
        assert limits.wait_s("admin", "10.0.0.66") == 0
    assert served == [300, 600, 1200, 2400, 4800, 4800, 4800]  # 16 windows at most


def test_a_success_forgives_the_pair():
    clock = Clock()
    limits = limiter(clock)
    limits.failed("ada", "10.0.0.1")
    limits.failed("ada", "10.0.0.1")
    limits.succeeded("ada", "10.0.0.1")
    limits.failed("ada", "10.0.0.1")
    assert limits.wait_s("ada", "10.0.0.1") == 0


def test_one_address_trying_many_usernames_is_stopped_for_the_rest_of_the_window():
    clock = Clock()
    limits = limiter(clock)
    for i in range(12):  # 4 x max_failures, no username twice
        clock.now += 1
        limits.failed(f"user{i}", "10.0.0.66")
    assert limits.wait_s("someone-else", "10.0.0.66") == 300 - 11
    assert limits.wait_s("someone-else", "10.0.0.2") == 0
    clock.now += 300
    assert limits.wait_s("someone-else", "10.0.0.66") == 0


def test_the_table_forgets_old_entries_and_stays_bounded():
    clock = Clock()
    limits = limiter(clock, max_entries=50)
    for i in range(200):
        limits.failed(f"user{i}", f"10.0.{i}.1")
    assert limits.entries() <= 2 * 50 + 2  # pairs and addresses, pruned as they grow
    clock.now += 300 * 16 + 1
    limits.wait_s("anyone", "10.0.0.1")
    assert limits.entries() == 0
