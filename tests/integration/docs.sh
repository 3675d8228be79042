# The documentation's own truth: README.md, README.ja.md and docs/**/*.md
# (their SQL examples are run by readme.sh; this group needs no service).
#
#   * every relative link points to a file that exists, and its #anchor to
#     a heading of that file, as GitHub makes anchors (lower case, a space
#     becomes "-", punctuation other than "-" and "_" removed, letters of
#     every script kept, "-1", "-2" ... for a heading seen before); a page
#     links the pages of its own language (either front page excepted);
#   * every docs/<page>.md has docs/ja/<page>.md and the other way round;
#     each pair (and README.md with README.ja.md) has the same headings
#     (the same level, one by one, in order) and the same fenced code
#     blocks, byte for byte (the translation is of the prose only);
#   * README.md, the front page, is at most 40 KB;
#   * no file of the project names the design folder outside it (the
#     parent directory's "shared"): what a reader needs is in docs/.

# docs_check MODE: the Python checker (links, pairs); prints one line per
# problem and exits non-zero if there is any
docs_check() {
	python3 - "$ECSYNC_TOP" "$1" <<-'PY'
	import glob, os, re, sys, unicodedata
	top, mode = sys.argv[1], sys.argv[2]
	def pages():
	    files = [f for f in ("README.md", "README.ja.md") if os.path.exists(os.path.join(top, f))]
	    files += sorted(os.path.relpath(p, top) for p in glob.glob(os.path.join(top, "docs", "**", "*.md"), recursive=True))
	    return files
	def parse(path):
	    """(headings [(level, text, line)], code blocks [text], prose [(line, text)])"""
	    heads, blocks, prose = [], [], []
	    fence = None
	    for n, l in enumerate(open(path, encoding="utf-8").read().split("\n"), 1):
	        if fence is None:
	            m = re.match(r"^ *(`{3,}|~{3,})", l)
	            if m:
	                fence, body = m.group(1), [l]
	                prose.append((n, ""))
	                continue
	            h = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", l)
	            if h:
	                heads.append((len(h.group(1)), h.group(2), n))
	            prose.append((n, l))
	        else:
	            body.append(l)
	            if re.match(r"^ *" + re.escape(fence[0]) + "{%d,}\\s*$" % len(fence), l):
	                blocks.append("\n".join(body))
	                fence = None
	            prose.append((n, ""))
	    return heads, blocks, prose
	def slug(text):
	    """GitHub's anchor of a heading's text"""
	    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)	# links: their text
	    text = text.replace("`", "")
	    out = []
	    for c in text.lower():
	        if c == " ":
	            out.append("-")
	        elif c in "-_" or unicodedata.category(c)[0] in "LNM":
	            out.append(c)
	    return "".join(out)
	def anchors(path):
	    seen, result = {}, set()
	    for level, text, n in parse(path)[0]:
	        s = slug(text)
	        if s in seen:
	            seen[s] += 1
	            result.add("%s-%d" % (s, seen[s]))
	        else:
	            seen[s] = 0
	            result.add(s)
	    return result
	def ja(f):
	    return f == "README.ja.md" or f.startswith("docs/ja/")
	problems = []
	if mode == "links":
	    count = 0
	    for f in pages():
	        prose = parse(os.path.join(top, f))[2]
	        # paragraph by paragraph (a link's text may span lines), code spans out
	        text = "\n".join(l for n, l in prose)
	        text = re.sub(r"(`+)(?!`).+?(?<!`)\1(?!`)", lambda m: "CODE" + "\n" * m.group(0).count("\n"), text, flags=re.S)
	        for m in re.finditer(r"\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^()\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)", text):
	            target = m.group(1)
	            line = text[:m.start()].count("\n") + 1
	            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
	                continue	# http:, https:, mailto:
	            count += 1
	            where = "%s:%d: (%s)" % (f, line, target)
	            path, _, anchor = target.partition("#")
	            dest = os.path.normpath(os.path.join(os.path.dirname(os.path.join(top, f)), path)) if path else os.path.join(top, f)
	            if not os.path.exists(dest):
	                problems.append("%s no such file" % where)
	                continue
	            rel = os.path.relpath(dest, top)
	            if rel.endswith(".md") and rel not in ("README.md", "README.ja.md") and ja(rel) != ja(f):
	                problems.append("%s: a page in %s links to a page in %s (each language links its own pages)" % (
	                    where, "Japanese" if ja(f) else "English", "Japanese" if ja(rel) else "English"))
	            if anchor:
	                if not dest.endswith(".md"):
	                    problems.append("%s an anchor into a file that is not Markdown" % where)
	                elif anchor not in anchors(dest):
	                    problems.append("%s no heading of %s has the anchor #%s" % (where, os.path.relpath(dest, top), anchor))
	    print("%d relative links checked" % count)
	elif mode == "pairs":
	    en = sorted(os.path.basename(p) for p in glob.glob(os.path.join(top, "docs", "*.md")))
	    ja = sorted(os.path.basename(p) for p in glob.glob(os.path.join(top, "docs", "ja", "*.md")))
	    for p in sorted(set(en) - set(ja)):
	        problems.append("docs/%s has no Japanese page docs/ja/%s" % (p, p))
	    for p in sorted(set(ja) - set(en)):
	        problems.append("docs/ja/%s has no English page docs/%s" % (p, p))
	    pairs = [("README.md", "README.ja.md")] + [("docs/" + p, "docs/ja/" + p) for p in sorted(set(en) & set(ja))]
	    for a, b in pairs:
	        if not (os.path.exists(os.path.join(top, a)) and os.path.exists(os.path.join(top, b))):
	            problems.append("%s or %s is missing" % (a, b))
	            continue
	        ha, ca, _ = parse(os.path.join(top, a))
	        hb, cb, _ = parse(os.path.join(top, b))
	        la, lb = [h[0] for h in ha], [h[0] for h in hb]
	        if la != lb:
	            for i in range(max(len(ha), len(hb))):
	                x = ha[i] if i < len(ha) else None
	                y = hb[i] if i < len(hb) else None
	                if x is None or y is None or x[0] != y[0]:
	                    problems.append("%s and %s: headings differ from heading %d on: %s against %s" % (
	                        a, b, i + 1, "%s:%d %s %s" % (a, x[2], "#" * x[0], x[1]) if x else "(none)",
	                        "%s:%d %s %s" % (b, y[2], "#" * y[0], y[1]) if y else "(none)"))
	                    break
	        if ca != cb:
	            if len(ca) != len(cb):
	                problems.append("%s has %d fenced code blocks, %s %d" % (a, len(ca), b, len(cb)))
	            for i, (x, y) in enumerate(zip(ca, cb), 1):
	                if x != y:
	                    problems.append("%s and %s: code block %d differs: %r against %r" % (a, b, i, x[:160], y[:160]))
	                    break
	        print("%s, %s: %d headings, %d code blocks" % (a, b, len(ha), len(ca)))
	for p in problems:
	    print(p, file=sys.stderr)
	sys.exit(1 if problems else 0)
	PY
}

test_relative_links_resolve() {
	docs_check links || fail "links that lead nowhere (above)"
}

test_pages_in_both_languages_match() {
	docs_check pairs || fail "the English and Japanese pages differ in their pages, headings or code (above)"
}

test_front_page_at_most_40_kb() {
	local size
	size=$(wc -c <"$ECSYNC_TOP/README.md")
	echo "README.md: $size bytes"
	[ "$size" -le 40960 ] || fail "README.md is $size bytes, more than 40 KB: move the reference into docs/"
}

test_nothing_names_the_folder_outside_the_project() {
	# the pattern is made here so that this file does not name it itself
	local pattern out
	pattern="../sha""red"
	out=$(cd "$ECSYNC_TOP" && git grep -n -F -e "$pattern" -- . 2>&1) || true
	echo "git grep -F '$pattern' in every tracked file: ${out:-nothing}"
	[ -z "$out" ] || fail "files of the project name $pattern (say what a reader needs in docs/ instead)"
}
