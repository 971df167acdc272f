"""`concierge worker`: takes training jobs from the SQL store, one at a time, and runs them.

The worker holds a job by heartbeat (`training.jobs`). A background thread beats every
`job_heartbeat_s` seconds with the progress the runner reports; when a beat is refused (an admin
cancelled the job, or another worker took it over after this one stalled) the thread sets the stop
event and the runner ends at its next check. A worker killed outright simply stops beating: after
`job_stale_s` another worker claims the job and the runner resumes it from its last checkpoint.

A runner is any callable `runner(job, report, stop) -> str | None` that returns the candidate
version it registered (or None); `report(progress=..., stage=..., metrics=..., log=...)` records how
far it got; `stop` is a `threading.Event` to check between steps. It raises to fail the job.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable

from backend.settings import Settings, get_settings
from backend.store import get_engine
from training import jobs

Runner = Callable[..., "str | None"]


class Reporter:
    """What the runner calls to report; the heartbeat thread writes the latest state to the job
    row."""

    def __init__(self, job_id: int, worker_id: str, engine=None):
        self.job_id, self.worker_id, self.engine = job_id, worker_id, engine
        self._lock = threading.Lock()
        self._pending: dict = {}
        self._log: list[str] = []

    def __call__(self, progress: float | None = None, stage: str | None = None,
                 metrics: dict | None = None, log: str | None = None) -> None:
        with self._lock:
            if progress is not None:
                self._pending["progress"] = progress
            if stage is not None:
                self._pending["stage"] = stage
            if metrics:
                self._pending["metrics"] = dict(self._pending.get("metrics", {}), **metrics)
            if log:
                self._log.append(log if log.endswith("\n") else log + "\n")

    def flush(self) -> bool:
        """Write what was reported since the last beat; False when the job is no longer ours to
        run."""
        with self._lock:
            pending, log = self._pending, "".join(self._log)
            self._pending, self._log = {}, []
        return jobs.heartbeat(self.job_id, self.worker_id, log=log or None, engine=self.engine,
                              **pending)


def touch_alive(settings: Settings) -> None:
    """Mark this worker alive for a container health check (`var/worker.alive`'s modification
    time)."""
    path = settings.var_dir / "worker.alive"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def _beat(reporter: Reporter, stop: threading.Event, done: threading.Event,
          settings: Settings) -> None:
    while not done.wait(settings.job_heartbeat_s):
        touch_alive(settings)
        if not reporter.flush():
            stop.set()
            return


def run_one(claim: jobs.Claim, worker_id: str, runner: Runner, settings: Settings,
            engine=None) -> str:
    """Run a claimed job to its end; returns the status it finished with. `engine`: the job
    store's."""
    job = claim.job
    reporter, stop, done = Reporter(job.id, worker_id, engine), threading.Event(), threading.Event()
    reporter(stage="resuming" if claim.resumed else "starting",
             log=f"worker {worker_id} {'resumes' if claim.resumed else 'starts'} job {job.id}")
    reporter.flush()
    beat = threading.Thread(target=_beat, args=(reporter, stop, done, settings), daemon=True)
    beat.start()
    try:
        version = runner(job, reporter, stop)
    except Exception as exc:  # the job fails with its reason; the worker lives on
        done.set()
        beat.join()
        reporter(log=traceback.format_exc()[-2000:])
        reporter.flush()
        jobs.finish(job.id, worker_id, "failed", error=f"{type(exc).__name__}: {exc}",
                    engine=engine)
        return "failed"
    done.set()
    beat.join()
    if stop.is_set():  # cancelled or taken over: the row already says so
        return jobs.get_job(job.id, engine).status
    reporter.flush()
    jobs.finish(job.id, worker_id, "succeeded", candidate_version=version, engine=engine)
    return "succeeded"


def run_worker(runner: Runner | None = None, worker_id: str | None = None, once: bool = False,
               poll_s: float = 5.0, settings: Settings | None = None,
               log: Callable[[str], None] = print) -> int:
    """Take and run jobs until interrupted (or, with `once`, until no job is waiting). Returns jobs
    run."""
    settings = settings or get_settings()
    worker_id = worker_id or jobs.default_worker_id()
    # bound now: a training run re-points the settings at scratch stores
    engine = get_engine(settings.sql_url)
    if runner is None:
        from training.pipeline import run_training_job as runner
    done = 0
    log(f"worker {worker_id}: waiting for training jobs (poll every {poll_s:g} s)")
    while True:
        touch_alive(settings)
        claim = jobs.claim_next(worker_id, settings, engine)
        if claim is None:
            if once:
                return done
            time.sleep(poll_s)
            continue
        log(f"job {claim.job.id}: {'resumed' if claim.resumed else 'started'}")
        status = run_one(claim, worker_id, runner, settings, engine)
        done += 1
        log(f"job {claim.job.id}: {status}")


def add_worker_arguments(parser) -> object:
    parser.add_argument("--once", action="store_true", help="run the waiting jobs, then exit")
    parser.add_argument("--poll", type=float, default=5.0,
                        help="seconds between looks for a job (default 5)")
    parser.add_argument("--id", default=None, help="worker id (default: host:pid)")
    return parser


def main_worker(args) -> int:
    try:
        run_worker(worker_id=args.id, once=args.once, poll_s=args.poll)
    except KeyboardInterrupt:
        print("worker stopped; a job it held resumes when a worker next starts")
    return 0
