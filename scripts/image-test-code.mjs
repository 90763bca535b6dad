// Test code never ships: for every Dockerfile under infra/, the files its COPY/ADD instructions would take from
// the build context (the repository root, less its ignore file) must hold no `testing/` folder and no
// `*.test.ts`. Run by `npm run infra:check`; `node scripts/image-test-code.mjs` runs it alone.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** A test file or test helper, by path relative to the repository root. */
export const isTestCode = (path) => /(^|\/)testing\//.test(path) || path.endsWith(".test.ts");

/** A .dockerignore / COPY pattern as a regular expression (Go's filepath.Match, plus `**` for any depth). */
export function patternToRegExp(pattern) {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*" && pattern[i + 1] === "*") {
      i += 1;
      if (pattern[i + 1] === "/") {
        i += 1;
        re += "(?:.*/)?";
      } else re += ".*";
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i);
      if (end < 0) re += "\\[";
      else {
        re += `[${pattern.slice(i + 1, end).replace(/^!/, "^")}]`;
        i = end;
      }
    } else if (c === "\\" && i + 1 < pattern.length) re += `\\${pattern[++i]}`;
    else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

const clean = (p) =>
  p
    .trim()
    .replace(/^\/+/, "")
    .replace(/^\.\//, "")
    .replace(/\/+$/, "")
    .replace(/\/\.(?=\/|$)/g, "");

/** Docker's rule: a pattern matches a path when it matches the path or one of its parent folders. */
function matchesOrParent(regexp, path) {
  const parts = path.split("/");
  for (let n = parts.length; n > 0; n--) if (regexp.test(parts.slice(0, n).join("/"))) return true;
  return false;
}

/** The .dockerignore rules as a predicate: true when `path` is left out of the build context. */
export function ignoreMatcher(text) {
  const rules = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const negate = l.startsWith("!");
      const pattern = clean(negate ? l.slice(1) : l);
      return { negate, regexp: pattern === "" ? /^$/ : patternToRegExp(pattern) };
    });
  return (path) => {
    let ignored = false;
    for (const rule of rules) if (matchesOrParent(rule.regexp, path)) ignored = !rule.negate;
    return ignored;
  };
}

/** The COPY/ADD instructions that read the build context: their source patterns and --exclude patterns. */
export function contextCopies(dockerfile) {
  const instructions = dockerfile
    .replace(/\\\r?\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /^(COPY|ADD)\s/i.test(l));
  const copies = [];
  for (const line of instructions) {
    let args = line.replace(/^\S+\s+/, "");
    const flags = [];
    while (args.startsWith("--")) {
      const flag = /^--\S+/.exec(args)[0];
      flags.push(flag);
      args = args.slice(flag.length).trimStart();
    }
    if (flags.some((f) => f.startsWith("--from="))) continue; // from another stage or image, not the context
    const paths = args.startsWith("[") ? JSON.parse(args) : args.split(/\s+/);
    copies.push({
      line,
      sources: paths.slice(0, -1).map(clean),
      excludes: flags
        .filter((f) => f.startsWith("--exclude="))
        .map((f) => clean(f.slice("--exclude=".length))),
    });
  }
  return copies;
}

/** The Dockerfiles under infra/ with their ignore files (`<Dockerfile>.dockerignore`, else the root's). */
export function findDockerfiles(root) {
  const found = [];
  for (const entry of readdirSync(join(root, "infra"), { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath ?? entry.path, entry.name);
    if (!entry.isFile() || path.includes("node_modules") || path.includes("cdk.out")) continue;
    if (!/(^|\.)Dockerfile(\.[^.]+)?$/.test(entry.name) || entry.name.endsWith(".dockerignore")) continue;
    const own = `${path}.dockerignore`;
    const rootIgnore = join(root, ".dockerignore");
    const ignore = existsSync(own) ? own : existsSync(rootIgnore) ? rootIgnore : undefined;
    found.push({ dockerfile: relative(root, path), ignore: ignore && relative(root, ignore) });
  }
  return found.sort((a, b) => a.dockerfile.localeCompare(b.dockerfile));
}

/**
 * Every test file a Dockerfile would copy into an image, as "Dockerfile: path (COPY …)" lines; empty when none.
 * `files` are the repository's files relative to `root` (default: git's tracked and untracked, not ignored).
 */
export function imageTestCode(root, files = gitFiles(root)) {
  const problems = [];
  for (const { dockerfile, ignore } of findDockerfiles(root)) {
    const ignored = ignoreMatcher(ignore ? readFileSync(join(root, ignore), "utf8") : "");
    const context = files.filter((f) => !ignored(f));
    for (const copy of contextCopies(readFileSync(join(root, dockerfile), "utf8"))) {
      const sources = copy.sources.map((s) => (s === "" ? /^.*$/ : patternToRegExp(s)));
      const excludes = copy.excludes.map(patternToRegExp);
      for (const file of context) {
        if (!isTestCode(file) || !sources.some((s) => matchesOrParent(s, file))) continue;
        if (excludes.some((e) => matchesOrParent(e, file))) continue;
        problems.push(`${dockerfile}: ${file} (${copy.line})`);
      }
    }
  }
  return problems;
}

function gitFiles(root) {
  return execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  })
    .split("\0")
    .filter(Boolean);
}

/** For infra:check: prints what would ship and returns false, or returns true. */
export function checkImagesHoldNoTestCode(root) {
  const problems = imageTestCode(root);
  if (problems.length === 0) return true;
  console.error(
    `Test code would be copied into a container image (add a rule to the Dockerfile's .dockerignore):\n  ${problems.slice(0, 20).join("\n  ")}${problems.length > 20 ? `\n  … and ${problems.length - 20} more` : ""}`,
  );
  return false;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const ok = checkImagesHoldNoTestCode(fileURLToPath(new URL("..", import.meta.url)));
  if (ok) console.log("images: no test code is copied into any image");
  process.exit(ok ? 0 : 1);
}
