"""The hand-written ctypes declarations against include/aisopod_loader.h.

The header is the source of truth. Every exported prototype is parsed from it (as tests/null_sweep.rs does) and
its C types mapped to the ctypes a faithful declaration uses; a function missing from the package, a parameter
of another type, a stale entry, a callback or struct that changed shape, a constant that moved, or a declared
function the package never calls fails here by name.
"""

import re
import unittest
from ctypes import POINTER, c_bool, c_char_p, c_int32, c_int64, c_size_t, c_uint8, c_uint32, c_uint64, c_void_p
from pathlib import Path

import aisopod_loader as aisopod
import support
from aisopod_loader import _bindings

#: Declared in the header for plugins to define; the library does not export them.
PLUGIN_ENTRY_POINTS = {"aisopod_plugin_abi_version", "aisopod_plugin_create"}

#: The library exports 103 functions today. A parser that silently dropped prototypes would still agree with
#: itself, so the count it finds must not fall below this.
MIN_FUNCTIONS = 103

PRIMITIVES = {
    "void": None,
    "bool": c_bool,
    "size_t": c_size_t,
    "uint32_t": c_uint32,
    "int32_t": c_int32,
    "int64_t": c_int64,
    "uint64_t": c_uint64,
    "uint8_t": c_uint8,
}


def strip_comments(text):
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def canonical(c_type):
    """`const  char*` -> `const char *`: one space between words and before the stars, none between stars."""
    spaced = " ".join(c_type.replace("*", " * ").split())
    return spaced.replace("* *", "**").replace("* *", "**")


def split_name(text):
    match = re.fullmatch(r"\s*(.*?)\b(\w+)\s*", text, re.S)
    if match is None or not match.group(1).strip():
        raise ValueError(f"no type and name in `{text}`")
    return canonical(match.group(1)), match.group(2)


def parse_functions(header):
    """name -> (return type, [parameter types]) for every top-level prototype outside the plugin entry points.

    A prototype starts at column 0 with its return type, an `aisopod_` name directly before its `(`, and runs
    to its `;`. That leaves out struct members (indented), typedefs, comments and preprocessor lines."""
    functions = {}
    lines = strip_comments(header).splitlines()
    start = re.compile(r"^(?!typedef\b)[A-Za-z_][\w\s\*]*?\baisopod_\w+\(")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not start.match(line):
            continue
        declaration = line
        while not declaration.rstrip().endswith(";"):
            declaration += " " + lines[index]
            index += 1
        match = re.fullmatch(r"(.*?)\(\s*(.*)\)\s*;", " ".join(declaration.split()))
        if match is None:
            raise ValueError(f"cannot parse `{declaration}`")
        return_type, name = split_name(match.group(1).replace("AISOPOD_PLUGIN_EXPORT", ""))
        params = match.group(2).strip()
        if "(" in params:
            raise ValueError(f"{name}: a parameter of function-pointer type needs a typedef")
        types = [] if params in ("", "void") else [split_name(p)[0] for p in params.split(",")]
        if name not in PLUGIN_ENTRY_POINTS:
            functions[name] = (return_type, types)
    return functions


def parse_aliases(header):
    """`typedef uint32_t aisopod_capability_kind;` and the like: alias -> the type it names. For
    `aisopod_status` the C11 branch (`typedef uint32_t aisopod_status;`) is the one ctypes follows."""
    return dict(
        (alias, canonical(target))
        for target, alias in re.findall(r"^typedef ((?:const )?\w+(?: \w+)?) (\w+);$", header, re.M)
        if not target.startswith(("struct ", "enum "))
    )


def parse_callback_typedef(header, name):
    """`typedef R (*name)(T a, ...);` -> (R, [T, ...])."""
    match = re.search(r"typedef ([\w\s\*]+?)\s*\(\*" + name + r"\)\((.*?)\);", strip_comments(header), re.S)
    if match is None:
        raise ValueError(f"no function-pointer typedef {name}")
    return canonical(match.group(1)), [split_name(p)[0] for p in match.group(2).split(",")]


def parse_struct(header, name):
    """The members of `typedef struct name { ... } name;`: (kind, name, type or (return, params))."""
    match = re.search(r"typedef struct " + name + r" \{(.*?)\} " + name + ";", strip_comments(header), re.S)
    if match is None:
        raise ValueError(f"no struct {name}")
    members = []
    for member in (m.strip() for m in match.group(1).split(";")):
        if not member:
            continue
        pointer = re.fullmatch(r"([\w\s\*]+?)\s*\(\*(\w+)\)\((.*)\)", " ".join(member.split()), re.S)
        if pointer:
            params = [split_name(p)[0] for p in pointer.group(3).split(",")]
            members.append((pointer.group(2), (canonical(pointer.group(1)), params)))
        else:
            c_type, member_name = split_name(member)
            members.append((member_name, c_type))
    return members


class Mapping:
    """The ctypes a faithful declaration uses for each C type of the header."""

    def __init__(self, header):
        self.aliases = parse_aliases(header)

    def resolve(self, c_type):
        # `const` may qualify the base type or a pointer (`const char *const *`); neither changes the ctypes.
        words = [word for word in c_type.replace("*", " * ").split() if word != "const"]
        stars = words.count("*")
        base = " ".join(word for word in words if word != "*")
        while base in self.aliases:
            base = self.aliases[base]
        return base, stars

    def ctype(self, c_type):
        if c_type in _bindings.CALLBACKS:
            return _bindings.CALLBACKS[c_type]
        base, stars = self.resolve(c_type)
        if stars == 0:
            if base not in PRIMITIVES:
                raise KeyError(f"no ctypes for `{c_type}`")
            return PRIMITIVES[base]
        if stars == 1:
            if base == "char":
                return c_char_p
            if base in ("void", "uint8_t"):
                # Byte buffers and opaque pointers: a c_void_p takes bytes and addresses alike.
                return c_void_p
            if base.startswith("struct "):
                return POINTER(_bindings.STRUCTS[base[len("struct ") :]])
            return POINTER(self.ctype(base))
        return POINTER(self.ctype(c_type.rsplit("*", 1)[0].strip()))


def missing_from_bindings(header):
    """What the header declares that `_bindings.FUNCTIONS` lacks, by name."""
    return sorted(set(parse_functions(header)) - set(_bindings.FUNCTIONS))


class HeaderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.header = support.HEADER.read_text()
        cls.functions = parse_functions(cls.header)
        cls.mapping = Mapping(cls.header)

    def test_the_parser_finds_every_export(self):
        self.assertGreaterEqual(len(self.functions), MIN_FUNCTIONS, sorted(self.functions))
        self.assertIn("aisopod_loader_new", self.functions)
        self.assertEqual(
            self.functions["aisopod_loader_emit"],
            (
                "aisopod_status",
                [
                    "const struct aisopod_loader *",
                    "const char *",
                    "const uint8_t *",
                    "size_t",
                    "const struct aisopod_sink *",
                    "size_t *",
                ],
            ),
        )

    def test_a_new_export_is_caught(self):
        # The check below, fed a header with one more prototype, names it.
        extra = "aisopod_status aisopod_loader_reticulate(const struct aisopod_loader *loader,\n    size_t n);\n"
        self.assertEqual(missing_from_bindings(self.header + extra), ["aisopod_loader_reticulate"])

    def test_every_export_is_declared(self):
        self.assertEqual(missing_from_bindings(self.header), [], "functions of the header the package lacks")

    def test_no_declaration_outlives_the_header(self):
        self.assertEqual(sorted(set(_bindings.FUNCTIONS) - set(self.functions)), [])

    def test_every_declaration_has_the_header_types(self):
        for name, (return_type, params) in self.functions.items():
            with self.subTest(function=name):
                restype, argtypes = _bindings.FUNCTIONS[name]
                self.assertIs(restype, self.mapping.ctype(return_type), f"{name} returns `{return_type}`")
                self.assertEqual(len(argtypes), len(params), f"{name}: {params}")
                for position, (declared, c_type) in enumerate(zip(argtypes, params)):
                    self.assertIs(declared, self.mapping.ctype(c_type), f"{name} parameter {position}: `{c_type}`")

    def test_every_declaration_is_called_by_the_package(self):
        package = Path(aisopod.__file__).parent
        sources = "\n".join(p.read_text() for p in package.glob("*.py") if p.name != "_bindings.py")
        uncalled = [name for name in _bindings.FUNCTIONS if not re.search(r"\." + name + r"\b", sources)]
        self.assertEqual(uncalled, [], "declared but never called by the package")

    def test_the_log_callback_has_the_typedef_signature(self):
        return_type, params = parse_callback_typedef(self.header, "aisopod_log_callback")
        callback = _bindings.LOG_CALLBACK
        self.assertIs(callback._restype_, self.mapping.ctype(return_type))
        self.assertEqual(list(callback._argtypes_), [self.mapping.ctype(p) for p in params])

    def test_the_sink_has_the_struct_layout(self):
        members = parse_struct(self.header, "aisopod_sink")
        fields = _bindings.Sink._fields_
        self.assertEqual([name for name, _ in fields], [name for name, _ in members])
        (_, context_type), (_, (write_return, write_params)) = members
        self.assertIs(fields[0][1], self.mapping.ctype(context_type))
        write = fields[1][1]
        self.assertIs(write._restype_, self.mapping.ctype(write_return))
        self.assertEqual(list(write._argtypes_), [self.mapping.ctype(p) for p in write_params])
        self.assertEqual(_bindings.SINK_WRITE, write)

    def test_the_value_structs_have_the_struct_layouts(self):
        for name in (
            "aisopod_resource_limits",
            "aisopod_plugin_usage",
            "aisopod_plugin_metrics",
            "aisopod_capability_metrics",
        ):
            with self.subTest(struct=name):
                members = parse_struct(self.header, name)
                self.assertTrue(members)
                structure = _bindings.STRUCTS[name]
                self.assertEqual(
                    [(field, ctype) for field, ctype in structure._fields_],
                    [(member, self.mapping.ctype(c_type)) for member, c_type in members],
                )

    def test_the_struct_check_sees_a_changed_member(self):
        # The comparison above, fed a header where one member changed type, differs.
        end = "  int32_t pid;\n} aisopod_plugin_usage;"
        changed = self.header.replace(end, end.replace("int32_t", "int64_t"))
        self.assertNotEqual(changed, self.header)
        members = parse_struct(changed, "aisopod_plugin_usage")
        self.assertNotEqual(list(_bindings.PluginUsageStruct._fields_), [(m, Mapping(changed).ctype(t)) for m, t in members])


class ConstantsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.header = support.HEADER.read_text()

    def defines(self, prefix):
        """The integer macros named `prefix...`, limits (`..._MAX_...`) apart."""
        found = re.findall(r"^#define " + prefix + r"(\w+) (\d+)$", self.header, re.M)
        return {name: int(value) for name, value in found if "_MAX_" not in prefix + name}

    def test_statuses_match_the_enum(self):
        header = {
            name: int(value) for name, value in re.findall(r"^  AISOPOD_STATUS_(\w+) = (\d+),$", self.header, re.M)
        }
        self.assertGreaterEqual(len(header), 30)
        self.assertEqual({s.name: s.value for s in aisopod.Status}, header)

    def test_kinds_levels_and_states_match_the_macros(self):
        for prefix, enum in (
            ("AISOPOD_CAPABILITY_", aisopod.Kind),
            ("AISOPOD_LOG_", aisopod.LogLevel),
            ("AISOPOD_PLUGIN_STATE_", aisopod.PluginState),
            ("AISOPOD_ISOLATION_", aisopod.Isolation),
            ("AISOPOD_PERMISSION_", aisopod.Permission),
            ("AISOPOD_SANDBOX_", aisopod.SandboxPolicy),
            ("AISOPOD_FILE_POLICY_", aisopod.FilePolicy),
        ):
            with self.subTest(prefix=prefix):
                header = self.defines(prefix)
                self.assertTrue(header)
                self.assertEqual({m.name: m.value for m in enum}, header)

    def test_limits_match_the_macros(self):
        limits = dict(re.findall(r"^#define AISOPOD_(\w+_MAX_\w+) (.+)$", self.header, re.M))
        self.assertEqual(sorted(limits), ["CAPABILITY_NAME_MAX_LEN", "ID_MAX_LEN", "MANIFEST_MAX_BYTES"])
        for name, expression in limits.items():
            with self.subTest(limit=name):
                # Integer arithmetic only, such as `(64 * 1024)`.
                self.assertRegex(expression, r"^[\d\s()*+]+$")
                self.assertEqual(getattr(aisopod, name), eval(expression))

    def test_abi_and_package_versions_match_the_header(self):
        self.assertEqual(
            aisopod.ABI_VERSION, int(re.search(r"^#define AISOPOD_ABI_VERSION (\d+)$", self.header, re.M).group(1))
        )
        header_version = re.search(r'^#define AISOPOD_LOADER_VERSION_STRING "(.*)"$', self.header, re.M).group(1)
        self.assertEqual(aisopod.__version__, header_version)


if __name__ == "__main__":
    unittest.main()
