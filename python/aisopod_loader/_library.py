"""Finding and opening libaisopod_loader, and declaring its functions."""

import ctypes
import ctypes.util
import os
import sys
import threading
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Tuple, Union

from ._bindings import FUNCTIONS
from ._errors import LoaderLibraryError
from ._version import __version__

#: The environment variable naming the library's path, read when no path is passed.
ENV_VAR = "AISOPOD_LOADER_LIBRARY"

PathArg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


def _platform_names() -> Tuple[str, Optional[str]]:
    """The installed name (with its ABI version) and the development name, as `make install` lays them out."""
    if sys.platform == "darwin":
        return "libaisopod_loader.0.dylib", "libaisopod_loader.dylib"
    if sys.platform == "win32":
        return "aisopod_loader.dll", None
    return "libaisopod_loader.so.0", "libaisopod_loader.so"


class Library:
    """An opened libaisopod_loader whose every exported function is declared as an attribute of the same name.

    `path` is what was opened (a path, or a name the dynamic linker resolved); `version` is the library's
    `aisopod_loader_version()`.
    """

    def __init__(self, handle: ctypes.CDLL, path: str) -> None:
        self.path = path
        for name, (restype, argtypes) in FUNCTIONS.items():
            try:
                function = getattr(handle, name)
            except AttributeError:
                raise LoaderLibraryError(
                    f"{path} is not a libaisopod_loader this package can drive: it does not export {name}"
                ) from None
            function.restype = restype
            function.argtypes = argtypes
            setattr(self, name, function)
        self.version: str = self.aisopod_loader_version().decode()
        if not compatible(__version__, self.version):
            raise LoaderLibraryError(
                f"{path} is libaisopod_loader {self.version}; this package drives {__version__} and the C API "
                "may differ between the two"
            )

    if TYPE_CHECKING:
        # The functions are set per instance, from FUNCTIONS.
        def __getattr__(self, name: str) -> Any: ...

    def __repr__(self) -> str:
        return f"<aisopod_loader.Library {self.version} at {self.path!r}>"


def compatible(package: str, library: str) -> bool:
    """Whether a package written for C API `package` can drive library `library`: the same major version, and
    before 1.0 the same minor version (semver lets 0.x minor releases break the API); from 1.0 on, a library
    at least as new."""

    def major_minor(version: str) -> Tuple[int, int]:
        core = version.split("+")[0].split("-")[0].split(".")
        return int(core[0]), int(core[1])

    (p_major, p_minor), (l_major, l_minor) = major_minor(package), major_minor(library)
    if p_major != l_major:
        return False
    return l_minor == p_minor if p_major == 0 else l_minor >= p_minor


_opened: Dict[Optional[str], Library] = {}
_opened_lock = threading.Lock()


def open_library(path: Optional[PathArg] = None) -> Library:
    """Opens libaisopod_loader once per process and per location, and returns it.

    Where it looks, in this order: `path` when given; otherwise the path in the environment variable
    `AISOPOD_LOADER_LIBRARY` when set; otherwise the dynamic linker's search for the installed name
    (`libaisopod_loader.so.0`), then `ctypes.util.find_library("aisopod_loader")`, then the development name
    (`libaisopod_loader.so`, as in `target/debug/` on `LD_LIBRARY_PATH`). An explicit path or variable that
    fails is an error at once; the search fails only when all three fail. `LoaderLibraryError` says what was
    tried and why each attempt failed.
    """
    if path is not None:
        key: Optional[str] = os.fsdecode(path)
        source = f"the path given ({key})"
    elif os.environ.get(ENV_VAR):
        key = os.environ[ENV_VAR]
        source = f"${ENV_VAR} ({key})"
    else:
        key, source = None, ""
    with _opened_lock:
        library = _opened.get(key)
        if library is None:
            library = _open(key, source) if key is not None else _search()
            _opened[key] = library
    return library


def _open(path: str, source: str) -> Library:
    try:
        handle = ctypes.CDLL(path)
    except OSError as e:
        raise LoaderLibraryError(f"cannot open libaisopod_loader from {source}: {e}") from None
    return Library(handle, path)


def _candidates() -> Iterator[Tuple[str, Optional[str]]]:
    """What the search tries, lazily: find_library runs ldconfig or a compiler, so only after the first name fails."""
    installed, development = _platform_names()
    yield f"the dynamic linker's search for {installed}", installed
    yield 'ctypes.util.find_library("aisopod_loader")', ctypes.util.find_library("aisopod_loader")
    if development is not None:
        yield f"the dynamic linker's search for {development}", development


def _search() -> Library:
    tried: List[str] = []
    for what, name in _candidates():
        if name is None:
            tried.append(f"{what}: found nothing")
            continue
        try:
            handle = ctypes.CDLL(name)
        except OSError as e:
            tried.append(f"{what}: {e}")
            continue
        return Library(handle, name)
    raise LoaderLibraryError(
        "cannot find libaisopod_loader; tried, in order:\n  "
        + "\n  ".join(tried)
        + f"\nPass its path (Loader(..., library=PATH) or open_library(PATH)), set ${ENV_VAR} to it, or install "
        "the library where the dynamic linker finds it (make install; ldconfig)."
    )
