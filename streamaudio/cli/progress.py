"""The one progress bar of the commands: made on the first report of work done (so an error before it
prints alone), with a total where one is known, closed however the command ends."""

from __future__ import annotations

from types import TracebackType

from tqdm import tqdm


class Bar:
    """``bar(done)`` moves a tqdm bar to ``done`` (absolute, not a step); use it as a context manager."""

    def __init__(
        self, desc: str, unit: str, total: float | None = None, *, leave: bool = False, fmt: str | None = None
    ) -> None:
        self.desc, self.unit, self.total, self.leave, self.fmt = desc, unit, total, leave, fmt
        self._bar: tqdm | None = None

    def __call__(self, done: float, postfix: str | None = None) -> None:
        if self._bar is None:
            if not done:  # nothing done yet: no bar (it would stay behind as "0 streams")
                return
            self._bar = tqdm(
                total=self.total,
                unit=f" {self.unit}",
                desc=self.desc,
                dynamic_ncols=True,
                leave=self.leave,
                bar_format=self.fmt,
            )
        self._bar.n = min(done, self.total) if self.total else done
        if postfix is not None:
            self._bar.set_postfix_str(postfix, refresh=False)
        self._bar.update(0)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
