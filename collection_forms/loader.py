"""Read a form definition (definitions/<name>.yaml), check it, and offer it to the rest of the
system: the phone screens (as_json), server validation (validate.py, schema.py), and later the
printed card and the Excel columns. A broken definition fails here, at load, with a message
that names the file, the section, the field and the problem."""
from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field as dc_field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import yaml

from collection_forms.code_lists import CodeList, load_code_lists
from collection_forms.conditions import DERIVED, Condition, evaluate, shape_problem, walk
from collection_forms.errors import FormDefinitionError

DEFINITIONS = Path(__file__).resolve().parent / "definitions"
FIELD_TYPES = ("text", "code", "date", "integer", "id_number", "phone", "member_ref")
MEMBERS = "members"  # the one repeating section: the member roster
HOUSEHOLD = "household"  # data key of every non-repeating section's fields
RESERVED_MEMBER_KEYS = ("person_id",)  # carried by every member, not a form field

_TOP_KEYS = {"form", "version", "title", "sections"}
_SECTION_KEYS = {"name", "label", "repeat", "relevant", "groups", "fields", "max_repeat", "max_repeat_if"}
_GROUP_KEYS = {"name", "label", "relevant"}
_FIELD_KEYS = {"name", "type", "label", "help", "required", "list", "codes", "max_length", "min", "max",
               "main_item", "relevant", "group", "default", "multiline"}
# Keys that only make sense for some types: a `list` on a date is a mistake worth reporting.
_TYPE_KEYS = {"list": ("code",), "codes": ("code",), "max_length": ("text",), "min": ("integer",),
              "max": ("integer",), "multiline": ("text",)}
# Size limits (issue 15): a text field without max_length gets this one; the other types have
# fixed lengths as typed (a date, an ID number with spaces), longer is never a value; the
# member roster holds at most max_repeat members unless a max_repeat_if rule says more.
DEFAULT_TEXT_MAX_LENGTH = 100
TYPE_MAX_LENGTH = {"code": 20, "date": 20, "integer": 12, "id_number": 40, "phone": 30, "member_ref": 64}
DEFAULT_MAX_REPEAT = 60

Text = dict[str, str]  # {"zh": ..., "en": ...}


@dataclass(frozen=True, eq=False)
class Field:
    name: str
    type: str
    label: Text
    section: str
    required: bool | Condition = False
    relevant: Condition | None = None  # effective: section's, group's and field's own, all together
    help: Text | None = None
    list_name: str | None = None
    code_list: CodeList | None = None
    codes: tuple[str, ...] = ()  # the codes allowed here: the `codes` subset, else the whole list
    max_length: int | None = None
    min: int | None = None
    max: int | None = None
    main_item: bool = False
    group: str | None = None
    default: Any = None
    multiline: bool = False  # text: line breaks allowed (a textarea on the page)

    @cached_property
    def allowed(self) -> frozenset[str]:
        return frozenset(self.codes)

    @property
    def limit(self) -> int:
        """The most characters a value may have as typed (stripped): max_length for text (the
        loader fills a default), a fixed length for the other types."""
        return self.max_length if self.max_length is not None else TYPE_MAX_LENGTH.get(self.type, 100)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "label": dict(self.label),
                               "required": copy.deepcopy(self.required),
                               "relevant": copy.deepcopy(self.relevant), "main_item": self.main_item}
        if self.help:
            out["help"] = dict(self.help)
        if self.group:
            out["group"] = self.group
        if self.default is not None:
            out["default"] = self.default
        if self.multiline:
            out["multiline"] = True
        out["limit"] = self.limit
        for key in ("max_length", "min", "max"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.code_list is not None:
            out["list"] = self.list_name
            items = self.code_list.codes
            out["options"] = [{"code": c, "zh": items[c].zh, "en": items[c].en, "parent": items[c].parent}
                              for c in self.codes]
        return out


@dataclass(frozen=True, eq=False)
class Group:
    name: str
    label: Text
    relevant: Condition | None = None


@dataclass(frozen=True, eq=False)
class Section:
    name: str
    label: Text
    repeat: bool
    fields: tuple[Field, ...]
    relevant: Condition | None = None
    groups: tuple[Group, ...] = ()
    # The member roster: at most max_repeat entries, or the `max` of the first max_repeat_if
    # rule whose `when` (a condition on household fields) holds.
    max_repeat: int | None = None
    max_repeat_if: tuple[dict[str, Any], ...] = ()

    @property
    def data_key(self) -> str:
        return MEMBERS if self.repeat else HOUSEHOLD

    @cached_property
    def by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "label": dict(self.label), "repeat": self.repeat,
                "data_key": self.data_key, "relevant": copy.deepcopy(self.relevant),
                "groups": [{"name": g.name, "label": dict(g.label), "relevant": copy.deepcopy(g.relevant)}
                           for g in self.groups],
                "fields": [f.as_json() for f in self.fields],
                **({"max_repeat": self.max_repeat, "max_repeat_if": copy.deepcopy(list(self.max_repeat_if))}
                   if self.repeat else {})}


@dataclass(frozen=True, eq=False, repr=False)
class FormDefinition:
    name: str
    version: int
    title: Text
    sections: tuple[Section, ...]
    path: Path
    code_lists: dict[str, CodeList] = dc_field(repr=False)
    # Per data key ("household", "members"): field names ordered so that whatever a field's
    # relevance reads comes before it. One pass in this order decides every field's relevance
    # on final values (validate.py, and the browser).
    relevance_order: dict[str, tuple[str, ...]] = dc_field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<FormDefinition {self.name} v{self.version} {self.path}>"

    @cached_property
    def household_fields(self) -> tuple[Field, ...]:
        """The fields of every non-repeating section: together they make `data["household"]`."""
        return tuple(f for s in self.sections if not s.repeat for f in s.fields)

    @cached_property
    def members_section(self) -> Section:
        return next(s for s in self.sections if s.repeat)

    @property
    def member_fields(self) -> tuple[Field, ...]:
        return self.members_section.fields

    @cached_property
    def _by_key(self) -> dict[str, dict[str, Field]]:
        return {HOUSEHOLD: {f.name: f for f in self.household_fields},
                MEMBERS: {f.name: f for f in self.member_fields}}

    def fields_of(self, key: str) -> dict[str, Field]:
        """The fields of data key "household" or "members", by name, in form order."""
        return self._by_key[key]

    def field(self, section: str, name: str) -> Field:
        """A field by section name, or by data key ("household" / "members"). KeyError if unknown."""
        for s in self.sections:
            if s.name == section and name in s.by_name:
                return s.by_name[name]
        return self._by_key[section][name]

    def max_members(self, household: Mapping[str, Any]) -> int:
        """How many members a household with these (typed) household values may have: one rule
        for the web form, the API and the phone (collect.js `maxMembers`)."""
        section = self.members_section
        for rule in section.max_repeat_if:
            if evaluate(rule["when"], household, lambda name: False):
                return int(rule["max"])
        return section.max_repeat or DEFAULT_MAX_REPEAT

    def main_items(self) -> list[tuple[str, Field]]:
        """The 主要数据项 as (data key "household"/"members", field), in form order."""
        return [(s.data_key, f) for s in self.sections for f in s.fields if f.main_item]

    @cached_property
    def _json(self) -> dict[str, Any]:
        return {"form": self.name, "version": self.version, "title": dict(self.title),
                "derived": {name: list(inputs) for name, inputs in DERIVED.items()},
                "relevance_order": {k: list(v) for k, v in self.relevance_order.items()},
                "sections": [s.as_json() for s in self.sections]}

    def as_json(self) -> dict[str, Any]:
        """The definition for the browser: JSON-able, code lists resolved to
        [{code, zh, en, parent}] (only the codes the field allows). A fresh copy each call."""
        return copy.deepcopy(self._json)


# ---------------------------------------------------------------- loading

def load_form(name: str = "household") -> FormDefinition:
    """The named definition from collection_forms/definitions/, read and checked once per process."""
    return _load_form(name)


@lru_cache(maxsize=None)
def _load_form(name: str) -> FormDefinition:
    return load_form_file(DEFINITIONS / f"{name}.yaml")


def load_form_file(path: str | Path, code_lists: dict[str, CodeList] | None = None) -> FormDefinition:
    """Read and check one definition file (not cached: for tests and tools)."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506 - safe loader subclass
    except (OSError, yaml.YAMLError) as e:
        raise FormDefinitionError(f"{path}: cannot be read: {e}") from e
    return _Builder(path, code_lists if code_lists is not None else load_code_lists()).build(raw)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key twice in one mapping (PyYAML would keep the last silently)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, (str, int, float, bool)):
            continue  # unhashable (a list as key): construct_mapping below refuses it
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _Builder:
    def __init__(self, path: Path, code_lists: dict[str, CodeList]):
        self.path = path
        self.code_lists = code_lists

    def fail(self, problem: str, section: str | None = None, field: str | None = None) -> FormDefinitionError:
        where = "".join([f" section '{section}'" if section else "", "," if section and field else "",
                         f" field '{field}'" if field else ""])
        return FormDefinitionError(f"{self.path}:{where + ':' if where else ''} {problem}")

    def label(self, value: Any, what: str, section: str | None = None, field: str | None = None) -> Text:
        if not isinstance(value, Mapping):
            raise self.fail(f"{what} must be a mapping with zh and en", section, field)
        for lang in ("zh", "en"):
            if not isinstance(value.get(lang), str) or not value[lang].strip():
                raise self.fail(f"{what} is missing its {lang} text", section, field)
        if set(value) - {"zh", "en"}:
            raise self.fail(f"{what} has unknown language(s) {sorted(set(value) - {'zh', 'en'})}", section, field)
        return {"zh": value["zh"].strip(), "en": value["en"].strip()}

    def build(self, raw: Any) -> FormDefinition:
        if not isinstance(raw, Mapping):
            raise self.fail("the file must be a mapping with form, version, title and sections")
        if unknown := set(raw) - _TOP_KEYS:
            raise self.fail(f"unknown key(s) {sorted(unknown)}")
        if raw.get("form") != self.path.stem:
            raise self.fail(f"'form' must be {self.path.stem!r} (the file name), found {raw.get('form')!r}")
        version = raw.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise self.fail(f"'version' must be a whole number from 1 (bumped on every change), found {version!r}")
        title = self.label(raw.get("title"), "title")
        sections_raw = raw.get("sections")
        if not isinstance(sections_raw, list) or not sections_raw:
            raise self.fail("'sections' must be a non-empty list")

        repeating = [s.get("name") for s in sections_raw if isinstance(s, Mapping) and s.get("repeat")]
        if len(repeating) > 1:
            raise self.fail(f"more than one repeating section: {repeating}; only the member roster repeats")
        if repeating != [MEMBERS]:
            raise self.fail(f"the member roster must be one section named '{MEMBERS}' with repeat: true")
        if all(isinstance(s, Mapping) and s.get("repeat") for s in sections_raw):
            raise self.fail("at least one non-repeating (household) section is needed")

        sections: list[Section] = []
        seen_sections: set[str] = set()
        household_names: dict[str, str] = {}  # field name -> section, across non-repeating sections
        for s_raw in sections_raw:
            section = self.section(s_raw, seen_sections, household_names)
            sections.append(section)
        # Conditions are checked once every field is known (a condition may name a later field).
        order = {HOUSEHOLD: self.check_conditions([s for s in sections if not s.repeat]),
                 MEMBERS: self.check_conditions([s for s in sections if s.repeat])}
        self.check_repeat_conditions(sections)
        return FormDefinition(raw["form"], version, title, tuple(sections), self.path, self.code_lists, order)

    def section(self, raw: Any, seen: set[str], household_names: dict[str, str]) -> Section:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            raise self.fail(f"every section needs a name: {raw!r}")
        name = raw["name"]
        if name in seen:
            raise self.fail("duplicate section name", name)
        seen.add(name)
        if unknown := set(raw) - _SECTION_KEYS:
            raise self.fail(f"unknown key(s) {sorted(unknown)}", name)
        label = self.label(raw.get("label"), "label", name)
        repeat = raw.get("repeat", False)
        if not isinstance(repeat, bool):
            raise self.fail("'repeat' must be true or false", name)
        relevant = self.condition_shape(raw.get("relevant"), name, None, "relevant")

        groups: dict[str, Group] = {}
        for g in raw.get("groups") or []:
            if not isinstance(g, Mapping) or not isinstance(g.get("name"), str):
                raise self.fail(f"every group needs a name: {g!r}", name)
            if unknown := set(g) - _GROUP_KEYS:
                raise self.fail(f"group '{g['name']}': unknown key(s) {sorted(unknown)}", name)
            if g["name"] in groups:
                raise self.fail(f"duplicate group name '{g['name']}'", name)
            groups[g["name"]] = Group(g["name"], self.label(g.get("label"), f"group '{g['name']}' label", name),
                                      self.condition_shape(g.get("relevant"), name, None, f"group '{g['name']}'"))

        fields_raw = raw.get("fields")
        if not isinstance(fields_raw, list) or not fields_raw:
            raise self.fail("'fields' must be a non-empty list", name)
        fields: list[Field] = []
        names: set[str] = set()
        for f_raw in fields_raw:
            f = self.field(f_raw, name, repeat, groups)
            if f.name in names:
                raise self.fail("duplicate field name", name, f.name)
            if not repeat and f.name in household_names:
                raise self.fail(f"duplicate field name: also in section '{household_names[f.name]}' "
                                "(all household sections share one record)", name, f.name)
            if repeat and f.name in RESERVED_MEMBER_KEYS:
                raise self.fail("this name is reserved: every member carries it already", name, f.name)
            names.add(f.name)
            if not repeat:
                household_names[f.name] = name
            parts = [c for c in (relevant, groups[f.group].relevant if f.group else None, f.relevant) if c]
            effective = None if not parts else parts[0] if len(parts) == 1 else {"all": parts}
            fields.append(replace(f, relevant=effective))
        max_repeat, max_repeat_if = self.repeat_limits(raw, name, repeat)
        return Section(name, label, repeat, tuple(fields), relevant, tuple(groups.values()),
                       max_repeat, max_repeat_if)

    def repeat_limits(self, raw: Mapping[str, Any], section: str, repeat: bool,
                      ) -> tuple[int | None, tuple[dict[str, Any], ...]]:
        """max_repeat (a whole number) and max_repeat_if ([{when: condition, max: n}]); the
        conditions' fields are checked once the household fields are known (build)."""
        if not repeat:
            for key in ("max_repeat", "max_repeat_if"):
                if key in raw:
                    raise self.fail(f"'{key}' applies to the repeating section only", section)
            return None, ()

        def whole(value: Any, what: str) -> int:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise self.fail(f"{what} must be a whole number from 1, found {value!r}", section)
            return value

        max_repeat = whole(raw.get("max_repeat", DEFAULT_MAX_REPEAT), "'max_repeat'")
        rules = raw.get("max_repeat_if") or []
        if not isinstance(rules, list):
            raise self.fail("'max_repeat_if' must be a list of {when, max}", section)
        out = []
        for rule in rules:
            if not isinstance(rule, Mapping) or set(rule) != {"when", "max"}:
                raise self.fail(f"'max_repeat_if': each rule is {{when: <condition>, max: <n>}}, found {rule!r}",
                                section)
            when = self.condition_shape(rule["when"], section, None, "max_repeat_if")
            out.append({"when": when, "max": whole(rule["max"], "'max_repeat_if' max")})
        return max_repeat, tuple(out)

    def check_repeat_conditions(self, sections: list[Section]) -> None:
        """max_repeat_if reads household fields (the roster's size is the household's)."""
        scope = {f.name: f for s in sections if not s.repeat for f in s.fields}
        for s in sections:
            for rule in s.max_repeat_if:
                for leaf in walk(rule["when"]):
                    if "derived" in leaf:
                        raise self.fail("max_repeat_if: a derived predicate describes a member; "
                                        "name a household field", s.name)
                    target = scope.get(leaf["field"])
                    if target is None:
                        raise self.fail(f"max_repeat_if: condition names unknown field {leaf['field']!r} "
                                        "(it sees the household fields)", s.name)
                    for op in ("equals", "in", "not_in"):
                        for v in (leaf[op] if op != "equals" else [leaf[op]]) if op in leaf else []:
                            if problem := self.value_problem(target, v):
                                raise self.fail(f"max_repeat_if: condition on '{target.name}': {problem}", s.name)

    def field(self, raw: Any, section: str, repeat: bool, groups: Mapping[str, Group]) -> Field:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            raise self.fail(f"every field needs a name: {raw!r}", section)
        name = raw["name"]
        if not name.isascii() or not name.replace("_", "a").isalnum() or not name[0].islower() or name != name.lower():
            raise self.fail("a field name is snake_case: lower-case letters, digits and _", section, name)
        if unknown := set(raw) - _FIELD_KEYS:
            raise self.fail(f"unknown key(s) {sorted(unknown)}", section, name)
        ftype = raw.get("type")
        if ftype not in FIELD_TYPES:
            raise self.fail(f"unknown field type {ftype!r}; known: {', '.join(FIELD_TYPES)}", section, name)
        for key, types in _TYPE_KEYS.items():
            if key in raw and ftype not in types:
                raise self.fail(f"'{key}' does not apply to a field of type {ftype}", section, name)
        if ftype == "member_ref" and not repeat:
            raise self.fail("a member_ref field belongs in the member roster", section, name)

        label = self.label(raw.get("label"), "label", section, name)
        help_ = self.label(raw["help"], "help", section, name) if "help" in raw else None
        required = raw.get("required", False)
        if not isinstance(required, bool):
            required = self.condition_shape(required, section, name, "required")
        if not isinstance(raw.get("main_item", False), bool):
            raise self.fail("'main_item' must be true or false", section, name)
        group = raw.get("group")
        if group is not None and group not in groups:
            raise self.fail(f"unknown group {group!r}", section, name)

        code_list, codes = None, ()
        if ftype == "code":
            list_name = raw.get("list")
            if list_name not in self.code_lists:
                raise self.fail(f"unknown code list {list_name!r}; known: {', '.join(sorted(self.code_lists))}",
                                section, name)
            code_list = self.code_lists[list_name]
            codes = tuple(code_list.codes)
            if "codes" in raw:
                subset = raw["codes"]
                if not isinstance(subset, list) or not subset:
                    raise self.fail("'codes' must be a non-empty list of codes", section, name)
                for c in subset:
                    if not isinstance(c, str):
                        raise self.fail(f"code {c!r} in 'codes' must be a quoted string (\"{c}\")", section, name)
                    if c not in code_list:
                        raise self.fail(f"code {c!r} in 'codes' is not in code list '{list_name}'", section, name)
                if len(set(subset)) != len(subset):
                    raise self.fail("'codes' lists a code twice", section, name)
                codes = tuple(subset)
        for key in ("max_length", "min", "max"):
            value = raw.get(key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise self.fail(f"'{key}' must be a whole number", section, name)
        if raw.get("max_length") is not None and raw["max_length"] < 1:
            raise self.fail("'max_length' must be at least 1", section, name)
        if raw.get("min") is not None and raw.get("max") is not None and raw["min"] > raw["max"]:
            raise self.fail("'min' is greater than 'max'", section, name)
        if not isinstance(raw.get("multiline", False), bool):
            raise self.fail("'multiline' must be true or false", section, name)
        max_length = raw.get("max_length")
        if ftype == "text" and max_length is None:
            max_length = DEFAULT_TEXT_MAX_LENGTH

        f = Field(name=name, type=ftype, label=label, section=section, required=required,
                  relevant=self.condition_shape(raw.get("relevant"), section, name, "relevant"),
                  help=help_, list_name=raw.get("list"), code_list=code_list, codes=codes,
                  max_length=max_length, min=raw.get("min"), max=raw.get("max"),
                  main_item=raw.get("main_item", False), group=group, default=raw.get("default"),
                  multiline=raw.get("multiline", False))
        if f.default is not None and (problem := self.value_problem(f, f.default)):
            raise self.fail(f"'default' {problem}", section, name)
        return f

    def condition_shape(self, cond: Any, section: str, field: str | None, what: str) -> Condition | None:
        if cond is None:
            return None
        if problem := shape_problem(cond):
            raise self.fail(f"{what}: {problem}", section, field)
        return cond

    @staticmethod
    def value_problem(f: Field, value: Any) -> str | None:
        """Why `value` can never be a value of `f` (for conditions and defaults)."""
        if f.type == "code":
            if not isinstance(value, str):
                return f"value {value!r} must be a quoted code string"
            if value not in f.allowed:
                return f"value {value!r} is not an allowed code of list '{f.list_name}'"
        elif f.type == "integer":
            if not isinstance(value, int) or isinstance(value, bool):
                return f"value {value!r} must be a whole number"
        elif not isinstance(value, str):
            return f"value {value!r} must be a string"
        return None

    def check_conditions(self, sections: list[Section]) -> tuple[str, ...]:
        """For one scope (the household sections together, or the member roster): every field a
        condition names exists in the scope, every derived predicate is known and has its
        inputs, relevance has no cycle. Returns the fields in relevance order."""
        repeat = sections[0].repeat
        scope = {f.name: f for s in sections for f in s.fields}
        where = "the member roster" if repeat else "the household sections"

        def check(cond: Condition | None, section: str, field: str | None, what: str) -> set[str]:
            reads: set[str] = set()
            for leaf in walk(cond) if cond else ():
                if "derived" in leaf:
                    pred = leaf["derived"]
                    if pred not in DERIVED:
                        raise self.fail(f"{what}: unknown derived predicate {pred!r}; known: "
                                        f"{', '.join(DERIVED)}", section, field)
                    if not repeat:
                        raise self.fail(f"{what}: derived predicate {pred!r} describes a member and "
                                        "can only be used in the member roster", section, field)
                    for needed in DERIVED[pred]:
                        if needed not in scope:
                            raise self.fail(f"{what}: derived predicate {pred!r} needs a field "
                                            f"'{needed}' in {where}", section, field)
                    reads.update(DERIVED[pred])
                    continue
                target = scope.get(leaf["field"])
                if target is None:
                    raise self.fail(f"{what}: condition names unknown field {leaf['field']!r} "
                                    f"(conditions see the fields of {where})", section, field)
                for op in ("equals", "in", "not_in"):
                    if op in leaf:
                        for v in leaf[op] if op != "equals" else [leaf[op]]:
                            if problem := self.value_problem(target, v):
                                raise self.fail(f"{what}: condition on '{target.name}': {problem}",
                                                section, field)
                reads.add(target.name)
            return reads

        depends: dict[str, set[str]] = {}
        home: dict[str, str] = {}
        for s in sections:
            check(s.relevant, s.name, None, "relevant")
            for g in s.groups:
                check(g.relevant, s.name, None, f"group '{g.name}' relevant")
            for f in s.fields:
                # f.relevant is already the effective condition (section, group and own).
                depends[f.name] = check(f.relevant, s.name, f.name, "relevant")
                home[f.name] = s.name
                if isinstance(f.required, Mapping):
                    check(f.required, s.name, f.name, "required")
        # Depth-first topological order; meeting a field that is still open is a cycle.
        order: list[str] = []
        state: dict[str, str] = {}

        def visit(name: str, chain: list[str]) -> None:
            if state.get(name) == "done":
                return
            if state.get(name) == "open":
                cycle = chain[chain.index(name):] + [name]
                raise self.fail(f"relevance cycle: {' -> '.join(cycle)}", home[name], name)
            state[name] = "open"
            for dep in sorted(depends[name]):
                visit(dep, chain + [name])
            state[name] = "done"
            order.append(name)

        for name in depends:
            visit(name, [])
        return tuple(order)

