"""Worker pool with error handling: a port of the article's fourth program.

From "How to Implement Worker Pools in Go" by nawazdhandala
(https://www.github.com/nawazdhandala), ported line for line onto gopool:
five workers run twenty tasks under a five-second ``Context``; each task
waits a random 0-99 ms (``--fast``: a twentieth) unless the context ends
first, and fails one time in five. Every result carries its error, and
the program counts successes and failures.

Prints twenty lines, each ``Task 3: Task 3 completed`` or ``Task 1 failed:
random processing error``, then a blank line and ``Summary: 16 succeeded,
4 failed``. Which tasks fail, and the order, vary between runs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from gopool._examples import clock, fmt
from gopool.chan import Chan, RecvChan, SendChan, go, select
from gopool.context import Context, background, with_timeout
from gopool.sync import WaitGroup
from gopool.timers import after


@dataclass(frozen=True)
class Task:
    id: int


@dataclass(frozen=True)
class TaskResult:
    task_id: int
    value: str = ""
    err: BaseException | None = None


def process_task(ctx: Context, task: Task) -> TaskResult:
    # Simulate random processing time
    match select(after(random.randrange(100) * clock.millisecond).recv, ctx.done().recv):
        case 1, _:  # <-ctx.Done()
            return TaskResult(task_id=task.id, err=ctx.err())

    # Simulate random errors
    if random.random() < 0.2:
        return TaskResult(
            task_id=task.id,
            err=Exception("random processing error"),
        )

    return TaskResult(
        task_id=task.id,
        value=f"Task {task.id} completed",
    )


def worker(
    ctx: Context, id: int, tasks: RecvChan[Task], results: SendChan[TaskResult], wg: WaitGroup
) -> None:
    try:  # defer wg.Done()
        while True:
            match select(ctx.done().recv, tasks.recv_ok):
                case 0, _:  # <-ctx.Done()
                    return
                case _, (task, ok):  # task, ok := <-tasks
                    if not ok:
                        return
                    result = process_task(ctx, task)
                    match select((results.send, result), ctx.done().recv):
                        case 1, _:  # <-ctx.Done()
                            return
    finally:
        wg.done()


def main() -> None:
    # 5*time.Second is a deadline, not simulated work: --fast leaves it alone,
    # so a slow machine does not turn the fast run into a run of timeouts.
    ctx, cancel = with_timeout(background(), 5.0)
    try:  # defer cancel()
        num_workers = 5
        num_tasks = 20

        tasks: Chan[Task] = Chan(num_tasks)
        results: Chan[TaskResult] = Chan(num_tasks)

        wg = WaitGroup()

        # Start workers
        for i in range(num_workers):
            wg.add(1)
            go(worker, ctx, i, tasks, results, wg)

        # Submit tasks
        def submit_tasks() -> None:
            for i in range(num_tasks):
                match select((tasks.send, Task(id=i)), ctx.done().recv):
                    case 1, _:  # <-ctx.Done()
                        return
            tasks.close()

        go(submit_tasks)

        # Close results when workers done
        def close_results() -> None:
            wg.wait()
            results.close()

        go(close_results)

        # Process results
        succeeded, failed = 0, 0
        for result in results:
            if result.err is not None:
                fmt.printf("Task %d failed: %s\n", result.task_id, result.err)
                failed += 1
            else:
                fmt.printf("Task %d: %s\n", result.task_id, result.value)
                succeeded += 1

        fmt.printf("\nSummary: %d succeeded, %d failed\n", succeeded, failed)
    finally:
        cancel()
