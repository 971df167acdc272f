"""Two evaluations of one bundle build its scratch stores one after the other."""

import threading

from training.eval_stores import held


def test_a_second_holder_waits_until_the_first_lets_go(tmp_path):
    lock, order = tmp_path / "bundle.lock", []

    def second():
        with held(lock):
            order.append("second")

    with held(lock):
        waiter = threading.Thread(target=second)
        waiter.start()
        waiter.join(timeout=0.5)
        assert waiter.is_alive()  # blocked while the first holds the lock
        order.append("first let go")
    waiter.join(timeout=30)
    assert order == ["first let go", "second"]
