"""The filter graph as nodes: inputs and chains of filters joined by streams; pad labels are written by the graph.

Code that builds a graph never names a pad. It opens inputs (`Graph.input`),
takes a stream on through filters (`Stream.then`, `Stream.fan` for a filter
with several outputs, such as split or segment), joins streams into a
many-input filter (`Graph.join`: concat, overlay, blend, ...) or starts from a
source filter (`Graph.source`), and gets streams back. `Graph.text` writes the
-filter_complex text: a run of one-input, one-output filters is written as one
comma-separated chain, as a person would write it, each chain after the chains
it reads, and the labels between chains are given out there.

Every stream must be used exactly once (split it to use it twice), and only
the streams named as the graph's outputs are left over: ffmpeg would send an
unused filter output to the output file on its own.

Filter text itself (a filter's name and options) stays text, written with
`f()` and the number helpers below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(eq=False)
class _Node:
    """Filters that take `inputs` (streams) and end in `outputs` output pads; or text that another module writes."""

    inputs: tuple[Stream, ...]
    filters: tuple[str, ...]
    outputs: int = 1
    # Text for a node whose graph another module writes, given its input labels and its output label.
    write: Callable[[list[str], str], str] | None = None


@dataclass(frozen=True, eq=False)
class Stream:
    """One output pad of a node (or one stream of an input file), to be used once."""

    graph: Graph
    node: _Node | None
    pad: int = 0
    spec: str = ""  # an input file's stream, e.g. "2:v"

    def then(self, *filters: str) -> Stream:
        """This stream through `filters` in turn ("" entries are left out)."""
        return self.graph.join([self], *filters)

    def fan(self, *filters: str, outputs: int) -> list[Stream]:
        """This stream through `filters`, the last of which has `outputs` output pads (split, segment, ...)."""
        return self.graph.join_fan([self], *filters, outputs=outputs)

    def copies(self, n: int, *, audio: bool = False) -> list[Stream]:
        """`n` copies of this stream: a split (asplit for sound), or the stream itself when n is 1."""
        return self.fan(f"{'asplit' if audio else 'split'}={n}", outputs=n) if n > 1 else [self]


@dataclass(frozen=True)
class Input:
    """One `-i` of the command: its index among the inputs and the options before it."""

    graph: Graph
    index: int
    args: tuple[str, ...]

    @property
    def video(self) -> Stream:
        return Stream(self.graph, None, spec=f"{self.index}:v")

    @property
    def audio(self) -> Stream:
        return Stream(self.graph, None, spec=f"{self.index}:a")


@dataclass(eq=False)
class Graph:
    """The inputs of one ffmpeg command and the filter graph between them."""

    inputs: list[Input] = field(default_factory=list)
    _nodes: list[_Node] = field(default_factory=list)

    def input(self, path: str, options: Sequence[str]) -> Input:
        """A new input: `options` (seeking, stream selection, allow-lists) go before its `-i path`."""
        opened = Input(self, len(self.inputs), (*options, "-i", path))
        self.inputs.append(opened)
        return opened

    def input_args(self) -> list[str]:
        return [arg for opened in self.inputs for arg in opened.args]

    def source(self, *filters: str) -> Stream:
        """A chain that starts from a source filter (color, nullsrc, anullsrc): it takes no stream."""
        return self.join([], *filters)

    def join(self, streams: Sequence[Stream], *filters: str) -> Stream:
        """The streams, in order, into the first of `filters` (concat, overlay, ...); the rest follow it."""
        return self.join_fan(streams, *filters, outputs=1)[0]

    def join_fan(self, streams: Sequence[Stream], *filters: str, outputs: int) -> list[Stream]:
        kept = tuple(f for f in filters if f) or ("null",)
        if outputs > 1 and kept == ("null",):
            raise ValueError("several outputs need a filter that makes them")
        return self._add(_Node(tuple(streams), kept, outputs))

    def subgraph(self, streams: Sequence[Stream], write: Callable[[list[str], str], str]) -> Stream:
        """A stream made by text another module writes: write(input labels, output label) -> graph text."""
        return self._add(_Node(tuple(streams), (), 1, write))[0]

    def _add(self, node: _Node) -> list[Stream]:
        for stream in node.inputs:
            if stream.graph is not self:
                raise ValueError("a stream from another graph")
        self._nodes.append(node)
        return [Stream(self, node, pad) for pad in range(node.outputs)]

    def text(self, outputs: dict[str, Stream]) -> str:
        """The -filter_complex text; `outputs` names the streams the command maps (name -> stream)."""
        named = {(id(s.node), s.pad): name for name, s in outputs.items()}
        self._check_uses(named)
        labels: dict[tuple[int, int], str] = {}

        def label(stream: Stream) -> str:
            if stream.spec:
                return stream.spec
            key = (id(stream.node), stream.pad)
            return labels.setdefault(key, named.get(key) or f"s{len(labels)}")

        parts = []
        for chain in self._chains():
            first, last = chain[0], chain[-1]
            starts = [label(s) for s in first.inputs]
            ends = [label(Stream(self, last, pad)) for pad in range(last.outputs)]
            if first.write is not None:
                parts.append(first.write(starts, ends[0]))
            else:
                filters = ",".join(f for node in chain for f in node.filters)
                parts.append("".join(f"[{s}]" for s in starts) + filters + "".join(f"[{e}]" for e in ends))
        return ";".join(parts)

    def _check_uses(self, named: dict[tuple[int, int], str]) -> None:
        """Every stream used once: by a filter, or as a named output."""
        uses: dict[object, int] = {key: 1 for key in named}
        for node in self._nodes:
            for stream in node.inputs:
                key = stream.spec or (id(stream.node), stream.pad)
                uses[key] = uses.get(key, 0) + 1
                if uses[key] > 1:
                    raise ValueError(f"a stream is used twice ({stream.spec or node.filters[:1]}): split it")
        for node in self._nodes:
            for pad in range(node.outputs):
                if (id(node), pad) not in uses:
                    raise ValueError(f"an output of {node.filters[:1] or 'a subgraph'} is never used")

    def _chains(self) -> list[list[_Node]]:
        """The nodes as chains: a node continues its input's chain when it is that one-output node's only user.

        Chains come in the order their last nodes were made: each after the chains it reads.
        """
        chains: list[list[_Node]] = []
        chain_of: dict[int, list[_Node]] = {}
        for node in self._nodes:
            source = node.inputs[0].node if len(node.inputs) == 1 else None
            if source is not None and source.outputs == 1 and source.write is None and node.write is None:
                chain = chain_of[id(source)]
                chain.append(node)
            else:
                chain = [node]
                chains.append(chain)
            chain_of[id(node)] = chain
        made = {id(node): k for k, node in enumerate(self._nodes)}
        return sorted(chains, key=lambda chain: made[id(chain[-1])])


def f(name: str, *values: object, **options: object) -> str:
    """One filter: `name=v1:v2:key=value`. A value holding a comma, colon, bracket or space is quoted."""
    items = [quote(v) for v in values] + [f"{key}={quote(v)}" for key, v in options.items()]
    return f"{name}={':'.join(items)}" if items else name


def quote(value: object) -> str:
    text = value if isinstance(value, str) else num(value) if isinstance(value, float) else str(value)
    if "'" in text or "\\" in text:
        raise ValueError(f"filter option {text!r} holds a quote or backslash")
    return f"'{text}'" if any(c in text for c in ",:;[] ") else text


def even(value: float) -> int:
    """The nearest even number, at least 2 (4:2:0 pictures need even sizes)."""
    return max(2, int(round(value / 2)) * 2)


def num(value: float) -> str:
    """A number for filter text: up to 6 decimals, no exponent."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def time(seconds: float) -> str:
    """A time for an option value, in seconds with microsecond precision."""
    return f"{seconds:.6f}"


# For two-input filters (overlay, blend) whose inputs end together, as f()'s options. Their
# default, repeatlast=1, keeps a copy of the last frame for the whole render in ffmpeg 5.1
# (figures: benchmarks/README.md).
NO_REPEAT = {"repeatlast": 0}
