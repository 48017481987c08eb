"""One way to name resources on the command line: a selector.

    NAME or ID                   orders, 9496207a5d6b44b486d79005b5815bd4
    KIND/NAME                    FdiTask/orders, DrsJob/*
    PROJECT/INSTANCE/NAME        c536.../fae7.../orders (DRS jobs have no instance: PROJECT//NAME)

Every part may be a glob (`*`, `?`, `[...]`, as in shell patterns); kinds match without regard
to case. A selector matches a resource when any of its forms does.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase


@dataclass(frozen=True, slots=True)
class Selector:
    """A parsed selector; `matches` tests one resource's identity."""

    text: str
    parts: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Selector:
        """ValueError, saying what is expected, for text that is no selector."""
        parts = tuple(text.split("/"))
        if not text or len(parts) > 3 or not all(parts[-1:]) or (len(parts) == 2 and not parts[0]):
            expected = "NAME, ID, KIND/NAME or PROJECT/INSTANCE/NAME (globs allowed)"
            raise ValueError(f"expected {expected}, got {text!r}")
        return cls(text, parts)

    def matches(self, kind: str, project_id: str, instance_id: str, name: str, id: str) -> bool:
        parts = self.parts
        if len(parts) == 1:
            return fnmatchcase(name, parts[0]) or (bool(id) and fnmatchcase(id, parts[0]))
        if len(parts) == 2:
            return fnmatchcase(kind.lower(), parts[0].lower()) and fnmatchcase(name, parts[1])
        project, instance, wanted = parts
        return (
            fnmatchcase(project_id, project)
            and fnmatchcase(instance_id, instance)
            and fnmatchcase(name, wanted)
        )
