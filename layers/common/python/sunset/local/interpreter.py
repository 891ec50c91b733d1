"""Two adjustments to moto's ASL interpreter, made while a sandbox runs.

ParsedDefinitions: parse each state machine definition once per process, not once per sandbox
and execution. moto's interpreter lexes and parses the definition with ANTLR on
CreateStateMachine (to validate it) and again on every StartExecution. For our decommission
machine that is 0.3 to 0.5 s of pure Python each time, several times per test. While the
sandbox runs, this keeps the ANTLR parse tree of each definition it has seen and reuses it.

Only the tree is kept. The evaluation components (what moto runs) are built afresh from it on
every call by moto's own Preprocessor, exactly as before: they hold per-execution state, the
tree does not. A definition with syntax errors is never cached, so it fails every time, as it
does on AWS.

RetryPauses: a Retrier's pause between attempts, optionally shortened. moto sleeps the full
interval (our retriers: 2 s, then 4 s); a fault-injection test that makes hundreds of steps
retry would spend most of its time asleep. The number of attempts, which errors are retried and
every state the execution enters stay exactly as the definition says; only the wall-clock pause
is scaled. Off (scale 1) unless a sandbox asks for it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from types import SimpleNamespace
from typing import Any

# Definitions kept: our two machines, plus the few a test may create. Oldest dropped first.
_KEEP = 16

# Shared by every sandbox of the process: that is the point.
_TREES: OrderedDict[str, Any] = OrderedDict()
_LOCK = threading.Lock()  # executions start from moto's threads too


class ParsedDefinitions:
    def __init__(self) -> None:
        self._saved_parse: Any = None

    def install(self) -> None:
        from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
        from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

        trees = _TREES
        original = AmazonStateLanguageParser.parse
        self._saved_parse = original

        def parse(definition: str) -> tuple[Any, Any]:
            with _LOCK:
                tree = trees.get(definition)
                if tree is not None:
                    trees.move_to_end(definition)
            if tree is None:
                _, tree = original(definition)  # raises on a syntax error: nothing kept
                with _LOCK:
                    trees[definition] = tree
                    if len(trees) > _KEEP:
                        trees.popitem(last=False)
            return Preprocessor().visit(tree), tree

        AmazonStateLanguageParser.parse = staticmethod(parse)  # type: ignore[method-assign]

    def uninstall(self) -> None:
        from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

        if self._saved_parse is not None:
            AmazonStateLanguageParser.parse = staticmethod(self._saved_parse)  # type: ignore[method-assign]
            self._saved_parse = None


class RetryPauses:
    def __init__(self, scale: float = 1.0) -> None:
        if scale < 0:
            raise ValueError(f"retry pause scale must be 0 or more, not {scale}")
        self.scale = scale
        self._saved_time: Any = None

    def install(self) -> None:
        if self.scale == 1.0:
            return
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

        scale = self.scale
        self._saved_time = retrier_decl.time
        # The module's only use of `time` is time.sleep(interval_seconds) before a retry.
        retrier_decl.time = SimpleNamespace(sleep=lambda seconds: time.sleep(seconds * scale))  # type: ignore[assignment]

    def uninstall(self) -> None:
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

        if self._saved_time is not None:
            retrier_decl.time = self._saved_time
            self._saved_time = None
