"""The Alloy configuration in the chart's values, read structurally (there is no Alloy binary offline).

Enough of the Alloy syntax to check the pipeline: blocks (``name.path "label" { ... }``), attributes
(``name = expression``), string and list literals, and references to other components' exports
(``loki.write.default.receiver``). Strings and comments (``//``, ``/* */``) are skipped wherever brackets are
counted. What this cannot tell is whether Alloy itself accepts every expression: that needs Alloy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

#: Component exports that other components consume.
EXPORTS = ("receiver", "targets", "output")
#: The environment variable the alloy chart fills with the node name (``fieldRef: spec.nodeName``).
NODE_ENV = "HOSTNAME"

_TOKEN = re.compile(
    r"""
    (?P<newline>\n)
    |(?P<space>[ \t\r]+)
    |(?P<comment>//[^\n]*|/\*[\s\S]*?\*/)
    |(?P<string>"(?:[^"\\\n]|\\.)*"|`[^`]*`)
    |(?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op>==|!=|<=|>=|&&|\|\||[-+*/%^<>!=.,:?(){}\[\]])
    """,
    re.VERBOSE,
)
_OPENERS = {"{": "}", "[": "]", "(": ")"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


class AlloySyntaxError(ValueError):
    """The config cannot be read; ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class Token:
    kind: str  # newline | string | number | ident | op
    text: str
    line: int

    @property
    def value(self) -> str:
        """A string token's value: escapes decoded in "...", none in raw `...` strings."""
        if self.text.startswith("`"):
            return self.text[1:-1]
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), self.text[1:-1])


def tokenize(text: str) -> list[Token]:
    """Tokens with newlines kept (they end attributes), spaces and comments dropped."""
    tokens: list[Token] = []
    position, line = 0, 1
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            if text[position] in '"`':
                raise AlloySyntaxError(line, "a string is never closed")
            if text.startswith("/*", position):
                raise AlloySyntaxError(line, "a /* comment is never closed")
            raise AlloySyntaxError(line, f"unexpected character {text[position]!r}")
        kind = str(match.lastgroup)
        if kind not in ("space", "comment"):
            tokens.append(Token(kind, match.group(0), line))
        line += match.group(0).count("\n")
        position = match.end()
    return tokens


def check_brackets(text: str) -> list[str]:
    """One problem line per unbalanced ``{}``/``[]``/``()`` (strings and comments ignored)."""
    try:
        tokens = tokenize(text)
    except AlloySyntaxError as exc:
        return [str(exc)]
    problems: list[str] = []
    stack: list[Token] = []
    for token in tokens:
        if token.text in _OPENERS and token.kind == "op":
            stack.append(token)
        elif token.text in _CLOSERS and token.kind == "op":
            if not stack:
                problems.append(f"line {token.line}: {token.text!r} closes nothing")
            elif stack[-1].text != _CLOSERS[token.text]:
                opened = stack.pop()
                problems.append(
                    f"line {token.line}: {token.text!r} closes the {opened.text!r} of line {opened.line}"
                )
            else:
                stack.pop()
    problems += [f"line {opened.line}: {opened.text!r} is never closed" for opened in stack]
    return problems


@dataclass
class Attribute:
    """``name = expression``; the expression kept as tokens."""

    name: str
    tokens: list[Token]
    line: int

    def string(self) -> str | None:
        """The value when the expression is one string literal."""
        if len(self.tokens) == 1 and self.tokens[0].kind == "string":
            return self.tokens[0].value
        return None

    def strings(self) -> list[str] | None:
        """The value when the expression is a list of string literals."""
        if not self.is_list():
            return None
        inner = [t for t in self.tokens[1:-1] if t.kind != "newline"]
        values = inner[0::2]
        if any(t.kind != "string" for t in values) or any(t.text != "," for t in inner[1::2]):
            return None
        return [t.value for t in values]

    def is_list(self) -> bool:
        """True when the expression is one ``[...]`` literal."""
        if not self.tokens or self.tokens[0].text != "[" or self.tokens[-1].text != "]":
            return False
        depth = 0
        for index, token in enumerate(self.tokens):
            depth += {"[": 1, "]": -1}.get(token.text, 0) if token.kind == "op" else 0
            if depth == 0 and index < len(self.tokens) - 1:
                return False
        return True

    def references(self) -> list[str]:
        """Dotted names that are not function calls, e.g. ``discovery.relabel.pod_logs.output``."""
        found: list[str] = []
        index = 0
        while index < len(self.tokens):
            if self.tokens[index].kind != "ident":
                index += 1
                continue
            parts = [self.tokens[index].text]
            index += 1
            while (
                index + 1 < len(self.tokens)
                and self.tokens[index].text == "."
                and self.tokens[index + 1].kind == "ident"
            ):
                parts.append(self.tokens[index + 1].text)
                index += 2
            if not (index < len(self.tokens) and self.tokens[index].text == "("):
                found.append(".".join(parts))
        return found

    def env_calls(self) -> list[str]:
        """The variable names of every ``sys.env("NAME")`` in the expression."""
        texts = [t.text for t in self.tokens]
        return [
            self.tokens[i + 4].value
            for i in range(len(texts) - 4)
            if texts[i : i + 4] == ["sys", ".", "env", "("] and self.tokens[i + 4].kind == "string"
        ]

    def text(self) -> str:
        return " ".join(t.text for t in self.tokens if t.kind != "newline")


@dataclass
class Block:
    """``name "label" { ... }``: attributes and nested blocks."""

    name: str
    label: str | None
    line: int
    attributes: dict[str, Attribute] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)

    def describe(self) -> str:
        return f'{self.name} "{self.label}"' if self.label is not None else self.name

    def children(self, name: str) -> list[Block]:
        return [b for b in self.blocks if b.name == name]

    def walk(self) -> Iterator[Block]:
        yield self
        for block in self.blocks:
            yield from block.walk()


@dataclass
class AlloyConfig:
    """The top-level blocks of one config."""

    blocks: list[Block]

    def components(self, name: str) -> list[Block]:
        return [b for b in self.blocks if b.name == name]

    def find(self, name: str, label: str) -> Block | None:
        return next((b for b in self.blocks if b.name == name and b.label == label), None)

    def attributes(self) -> Iterator[tuple[Block, Attribute]]:
        for top in self.blocks:
            for block in top.walk():
                for attribute in block.attributes.values():
                    yield block, attribute


class _Parser:
    def __init__(self, tokens: Sequence[Token]) -> None:
        self.tokens = list(tokens)
        self.index = 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            last = self.tokens[-1].line if self.tokens else 1
            raise AlloySyntaxError(last, "the config ends in the middle of a statement")
        self.index += 1
        return token

    def skip_newlines(self) -> None:
        while (token := self.peek()) is not None and token.kind == "newline":
            self.index += 1

    def body(self, *, top: bool) -> tuple[dict[str, Attribute], list[Block]]:
        attributes: dict[str, Attribute] = {}
        blocks: list[Block] = []
        while True:
            self.skip_newlines()
            token = self.peek()
            if token is None:
                if not top:
                    raise AlloySyntaxError(self.tokens[-1].line, "a block is never closed")
                return attributes, blocks
            if token.text == "}" and not top:
                self.index += 1
                return attributes, blocks
            name = self.dotted_name()
            following = self.take()
            if following.text == "=":
                attributes[name] = Attribute(name, self.expression(), token.line)
                continue
            label = None
            if following.kind == "string":
                label, following = following.value, self.take()
            if following.text != "{":
                raise AlloySyntaxError(following.line, f"expected '=' or '{{' after {name}")
            block = Block(name, label, token.line)
            block.attributes, block.blocks = self.body(top=False)
            blocks.append(block)

    def dotted_name(self) -> str:
        token = self.take()
        if token.kind != "ident":
            raise AlloySyntaxError(token.line, f"expected a name, found {token.text!r}")
        parts = [token.text]
        while (dot := self.peek()) is not None and dot.text == ".":
            self.index += 1
            part = self.take()
            if part.kind != "ident":
                raise AlloySyntaxError(part.line, f"expected a name after '.', found {part.text!r}")
            parts.append(part.text)
        return ".".join(parts)

    def expression(self) -> list[Token]:
        """Tokens up to the end of the line (or the block's ``}``), across bracketed line breaks."""
        tokens: list[Token] = []
        depth = 0
        while (token := self.peek()) is not None:
            if depth == 0 and (token.kind == "newline" or token.text == "}"):
                break
            if token.kind == "op" and token.text in _OPENERS:
                depth += 1
            elif token.kind == "op" and token.text in _CLOSERS:
                depth -= 1
            tokens.append(token)
            self.index += 1
        if not tokens:
            line = token.line if token is not None else self.tokens[-1].line
            raise AlloySyntaxError(line, "an attribute has no value")
        return tokens


def parse(text: str) -> AlloyConfig:
    """The config's blocks; AlloySyntaxError names the line that cannot be read."""
    _, blocks = _Parser(tokenize(text)).body(top=True)
    return AlloyConfig(blocks)


def check_structure(config: AlloyConfig, *, daemonset: bool) -> list[str]:
    """References name declared components, ``forward_to`` is a list, the node filter uses HOSTNAME."""
    problems: list[str] = []
    declared = sorted(b.describe() for b in config.blocks if b.label is not None)
    for _, attribute in config.attributes():
        for reference in attribute.references():
            parts = reference.split(".")
            if len(parts) < 3 or parts[-1] not in EXPORTS:
                continue
            if config.find(".".join(parts[:-2]), parts[-2]) is None:
                problems.append(
                    f"line {attribute.line}: {attribute.name} = {reference} names no declared component "
                    f'{".".join(parts[:-2])} "{parts[-2]}" (declared: {", ".join(declared)})'
                )
        if attribute.name == "forward_to" and not attribute.is_list():
            problems.append(
                f"line {attribute.line}: forward_to = {attribute.text()} is not a list: "
                "write forward_to = [<component>.receiver]"
            )
    if daemonset:
        problems += _node_filter(config)
    return problems


def _node_filter(config: AlloyConfig) -> list[str]:
    """Each pod discovery of a DaemonSet keeps to its node: field = "spec.nodeName=" + sys.env(HOSTNAME)."""
    problems: list[str] = []
    for block in config.components("discovery.kubernetes"):
        role = block.attributes.get("role")
        if role is None or role.string() != "pod":
            continue
        fields = [
            s.attributes["field"]
            for s in block.children("selectors")
            if "field" in s.attributes and "spec.nodeName=" in s.attributes["field"].text()
        ]
        if not fields:
            problems.append(
                f"line {block.line}: {block.describe()} has no selectors block with "
                f'field = "spec.nodeName=" + sys.env("{NODE_ENV}"): every DaemonSet pod would tail every '
                "pod of the cluster, and each line would reach Loki once per node"
            )
        for field_attribute in fields:
            names = field_attribute.env_calls()
            if names != [NODE_ENV]:
                read = ", ".join(f'sys.env("{name}")' for name in names) or "no sys.env(...)"
                problems.append(
                    f"line {field_attribute.line}: the node filter reads {read}, but the "
                    f"alloy chart puts the node name (spec.nodeName) into {NODE_ENV}: use "
                    f'"spec.nodeName=" + sys.env("{NODE_ENV}")'
                )
    return problems
