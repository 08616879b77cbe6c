"""An MCP client for `krash mcp`, on the official Python SDK (`mcp` on PyPI).

Run by crates/cli/tests/mcp_lab.rs as `python mcp_client.py CONFIG.json`.
CONFIG names the krash binary, a dump and its vmlinux, the command lines to
run and where to write what the server returned; the Rust test compares
those documents with `krash --json` on the same dump. This script checks
what only a client sees: the handshake, the tool list and schemas, error
results, paging. Any failed check ends it with status 1 and the reason.
"""

import asyncio
import json
import sys

from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client

# Long commands on big dumps (kmem -s, analyze) in a debug build.
TIMEOUT_SECONDS = 600


class CheckFailed(Exception):
    pass


def check(condition, what):
    if not condition:
        raise CheckFailed(what)


def texts(result):
    return [block.text for block in result.content if getattr(block, "type", None) == "text"]


async def call(session, tool, arguments):
    return await session.call_tool(tool, arguments, read_timeout_seconds=TIMEOUT_SECONDS)


async def fetch_all(session, tool, arguments, max_bytes=None):
    """Every page of one result, checked and joined: (text, is_error, pages)."""
    args = dict(arguments)
    if max_bytes is not None:
        args["max_bytes"] = max_bytes
    first = await call(session, tool, args)
    parts = texts(first)
    check(parts, f"{tool} {arguments}: a text block")
    joined = parts[0]
    notes = [json.loads(p) for p in parts[1:] if p.startswith('{"page"')]
    if not notes:
        return joined, first.is_error, 1
    note = notes[0]
    pages = note["pages"]
    check(note["page"] == 1 and pages > 1, f"{tool}: first note {note}")
    check(note["next_page"] == 2, f"{tool}: first note names page 2: {note}")
    limit = note["max_bytes"]
    if max_bytes is not None:
        check(limit == max_bytes, f"{tool}: note's max_bytes {limit} is the one asked for ({max_bytes})")
    check(len(parts[0].encode()) <= limit, f"{tool}: page 1 is {len(parts[0].encode())} bytes > {limit}")
    for page in range(2, pages + 1):
        result = await call(session, tool, dict(args, page=page))
        check(result.is_error == first.is_error, f"{tool}: page {page} has the first page's error flag")
        parts = texts(result)
        page_note = json.loads(parts[1])
        check(page_note["page"] == page and page_note["pages"] == pages, f"{tool}: page {page}'s note {page_note}")
        check(page_note.get("next_page") == (page + 1 if page < pages else None), f"{tool}: next of {page_note}")
        check(page_note["total_bytes"] == note["total_bytes"], f"{tool}: total_bytes changes between pages")
        size = len(parts[0].encode())
        check(0 < size <= limit, f"{tool}: page {page} is {size} bytes, limit {limit}")
        joined += parts[0]
    check(len(joined.encode()) == note["total_bytes"], f"{tool}: the pages joined are total_bytes long")
    beyond = await call(session, tool, dict(args, page=pages + 1))
    check(beyond.is_error, f"{tool}: page {pages + 1} of {pages} is an error")
    check(json.loads(texts(beyond)[0])["error"]["kind"] == "usage", f"{tool}: past the last page is a usage error")
    return joined, first.is_error, pages


def server(cfg, *args):
    return StdioServerParameters(command=cfg["krash"], args=["mcp", "--no-search", *args])


async def first_session(cfg, out):
    async with stdio_client(server(cfg)) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            check(init.server_info.name == "krash", f"server name {init.server_info.name}")
            check(init.capabilities.tools is not None, "the server offers tools")
            check(init.instructions and "analyze" in init.instructions, "instructions name the tools")

            listed = (await session.list_tools()).tools
            out["tools"] = sorted(t.name for t in listed)
            check(out["tools"] == ["analyze", "command", "commands", "open"], f"tools: {out['tools']}")
            for tool in listed:
                check(tool.input_schema.get("type") == "object", f"{tool.name}: object schema")
                check(tool.description, f"{tool.name}: a description")
            schema = next(t for t in listed if t.name == "command").input_schema
            check(schema.get("required") == ["line"], f"command requires line: {schema}")
            for name in ("line", "format", "page", "max_bytes"):
                check(name in schema["properties"], f"command's schema has {name}")

            # No dump yet: a command is refused with an error document.
            early = await call(session, "command", {"line": "sys"})
            check(early.is_error, "a command before open is an error")
            doc = json.loads(texts(early)[0])
            check(doc["error"]["kind"] == "usage" and "open" in doc["error"]["message"], f"before open: {doc}")

            # Arguments that do not fit the schema: an error result, not a crash.
            wrong = await call(session, "command", {"lines": "ps"})
            check(wrong.is_error, "unknown arguments are an error")
            check(json.loads(texts(wrong)[0])["error"]["kind"] == "usage", "bad arguments are a usage error")

            # A tool that does not exist is a protocol error.
            try:
                await call(session, "nosuchtool", {})
                raise CheckFailed("calling an unknown tool raised nothing")
            except MCPError as e:
                check("nosuchtool" in str(e), f"the protocol error names the tool: {e}")

            missing = await call(session, "open", {"path": cfg["vmcore"] + ".missing"})
            check(missing.is_error, "opening a missing file is an error")
            check(json.loads(texts(missing)[0])["command"] == "open", "the open error document")

            opened = await call(session, "open", {"path": cfg["vmcore"], "vmlinux": cfg["vmlinux"]})
            check(not opened.is_error, f"open failed: {texts(opened)}")
            out["open"] = json.loads(texts(opened)[0])
            check(out["open"]["command"] == "sys", "open answers with the sys document")

            # Text first: these change no state, so the lines after them run
            # as in a fresh `krash --json` session.
            out["text"] = []
            for line in cfg["text_lines"]:
                text, is_error, _ = await fetch_all(session, "command", {"line": line, "format": "text"})
                check(not is_error and text.strip(), f"{line} as text: {text[:500]}")
                out["text"].append({"line": line, "text": text})

            # Whether a line may fail (kmem -s on a SLAB kernel) is for the
            # Rust test to judge against krash --json; here an error result
            # must hold an error document and a success a data document.
            out["lines"] = []
            for line in cfg["lines"]:
                text, is_error, pages = await fetch_all(session, "command", {"line": line})
                doc = json.loads(text)
                check(("error" in doc) == is_error and ("data" in doc) != is_error, f"{line}: {text[:500]}")
                out["lines"].append({"line": line, "doc": doc, "is_error": is_error, "pages": pages})

            text, is_error, _ = await fetch_all(session, "analyze", {})
            check(not is_error, f"analyze: {text[:500]}")
            out["analyze"] = json.loads(text)

            text, is_error, _ = await fetch_all(session, "commands", {})
            table = json.loads(text)["commands"]
            names = {c["name"] for c in table}
            check({"bt", "ps", "kmem", "analyze"} <= names, f"commands: {sorted(names)}")
            check(all(c["summary"] and c["synopsis"] for c in table), "every command has a summary and synopsis")

            bad = await call(session, "command", {"line": cfg["bad_line"]})
            check(bad.is_error, f"{cfg['bad_line']} is an error result")
            out["bad"] = json.loads(texts(bad)[0])
            check("error" in out["bad"] and "data" not in out["bad"], f"an error document: {out['bad']}")

            # A dump that does not open leaves the open one in place.
            missing = await call(session, "open", {"path": cfg["vmcore"] + ".missing"})
            check(missing.is_error, "opening a missing file is an error")
            still = await call(session, "command", {"line": "sys"})
            check(not still.is_error, "the session survives a failed open")

            for line in ("ps | wc -l", "!id", "log > /tmp/krash-mcp-log"):
                refused = await call(session, "command", {"line": line})
                check(refused.is_error, f"{line} is refused")
                check(json.loads(texts(refused)[0])["error"]["kind"] == "usage", f"{line}: a usage error")

            # Paging: a small max_bytes cuts the document into pages that join
            # to the one-page document.
            line = cfg["paged_line"]
            whole, _, whole_pages = await fetch_all(session, "command", {"line": line}, max_bytes=1048576)
            check(whole_pages == 1, f"{line}: one page at 1 MiB")
            max_bytes = cfg["paged_max_bytes"]
            joined, is_error, pages = await fetch_all(session, "command", {"line": line}, max_bytes=max_bytes)
            check(not is_error, f"{line} paged")
            check(pages > 1, f"{line}: {len(whole.encode())} bytes in pages of {max_bytes} is more than one page")
            check(joined == whole, f"{line}: the pages joined are the whole document")
            out["paged"] = {"line": line, "pages": pages, "bytes": len(whole.encode()), "max_bytes": max_bytes}

            # Never a flood: a result of megabytes comes 64 KiB at a time by
            # default, and at most 1 MiB however much is asked for.
            line = cfg["flood_line"]
            for asked, limit in ((None, 65536), (10**9, 1048576)):
                args = {"line": line} if asked is None else {"line": line, "max_bytes": asked}
                first = await call(session, "command", args)
                parts = texts(first)
                check(not first.is_error and len(parts) == 2, f"{line}: a page and a note")
                note = json.loads(parts[1])
                size = len(parts[0].encode())
                check(note["max_bytes"] == limit and size <= limit, f"{line}: page of {size} bytes, note {note}")
                check(note["total_bytes"] > 1048576, f"{line}: {note['total_bytes']} bytes is more than a page can hold")
                check(note["pages"] * limit >= note["total_bytes"] and note["pages"] > 1, f"{line}: {note}")
                last = await call(session, "command", dict(args, page=note["pages"]))
                last_note = json.loads(texts(last)[1])
                check("next_page" not in last_note, f"{line}: the last page names no next: {last_note}")
                out.setdefault("flood", []).append(note)


async def second_session(cfg, out):
    # The dump given on krash mcp's command line is open from the start.
    async with stdio_client(server(cfg, cfg["vmcore"], "-k", cfg["vmlinux"])) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            text, is_error, _ = await fetch_all(session, "command", {"line": "sys"})
            check(not is_error, f"sys at start: {text[:500]}")
            out["sys_at_start"] = json.loads(text)


async def main():
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    out = {}
    await first_session(cfg, out)
    await second_session(cfg, out)
    with open(cfg["out"], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except CheckFailed as e:
        print(f"mcp_client.py: check failed: {e}", file=sys.stderr)
        sys.exit(1)
