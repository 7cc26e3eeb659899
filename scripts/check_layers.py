#!/usr/bin/env python3
"""Checks the layers of include/portpool (docs/design.md, "The map").

1. detail/ headers include only detail/ headers (and standard or third-party ones).
2. No public declaration names a detail:: entity: declarations at namespace scope and in the
   public or protected part of a class (signatures, data members, aliases, base classes) of a
   public header (include/portpool/*.hpp, include/portpool/fleet/*.hpp). Function bodies,
   member initialisers, private members and friend declarations may use detail::.
3. The include graph has no cycle.
4. No public header says `using namespace` of a detail namespace outside a detail namespace or a
   function body (it would make every detail:: entity public).
5. With --users ROOT: the programs built on the library (ROOT/src, ROOT/tools, ROOT/examples) use
   only public headers and no detail:: entity. The fleet component (src/fleet) is part of the
   library, compiled: it may use the core's detail and impl headers.

Includes are found in both spellings, <portpool/...> and "portpool/...".

Usage: check_layers.py INCLUDE_DIR [--users ROOT] [--graph]   (--graph prints each header's level)
"""

import re
import sys
from pathlib import Path

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"](portpool/[^>"]+)[>"]', re.M)
USER_FOLDERS = ('src', 'tools', 'examples')
LIBRARY_COMPONENTS = ('src/fleet',)
TOKEN = re.compile(r'[A-Za-z_]\w*(?:::\w+)*|::|\S')


def includes(path):
    return INCLUDE.findall(path.read_text())


def layer(name):
    parts = name.split('/')
    return parts[1] if len(parts) > 2 and parts[1] in ('detail', 'impl') else 'public'


def strip(text):
    text = re.sub(r'//[^\n]*|/\*.*?\*/', ' ', text, flags=re.S)
    text = re.sub(r'R"(\w*)\(.*?\)\1"', '""', text, flags=re.S)
    text = re.sub(r'"(\\.|[^"\\\n])*"|\'(\\.|[^\'\\\n])*\'', '""', text)
    return re.sub(r'^\s*#[^\n]*(\\\n[^\n]*)*', ' ', text, flags=re.M)


def skip_balanced(tokens, index, opening, closing):
    """Index just past the token that closes tokens[index] (== opening)."""
    depth = 0
    while index < len(tokens):
        if tokens[index] == opening:
            depth += 1
        elif tokens[index] == closing:
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return index


def signature_of(declaration):
    """The tokens of a declaration that belong to its signature: a constructor's member
    initialisers (after the ':' that follows its parameter list) and a variable's initialiser
    (after its '=') are not part of it; an alias's '=' is (the alias names what follows)."""
    depth = 0
    alias = 'using' in declaration[:1] or ('using' in declaration and 'template' in declaration[:1])
    for index, token in enumerate(declaration):
        if token in '(<[':
            depth += 1
        elif token in ')>]':
            depth -= 1
        elif token == ':' and depth == 0 and index > 0 and declaration[index - 1] in (')', 'noexcept', 'const'):
            return declaration[:index]
        elif token == '=' and depth == 0 and not alias:
            return declaration[:index]
    return declaration


def public_detail_names(text):
    """(declaration, name) for each detail:: name in a public declaration."""
    tokens = TOKEN.findall(strip(text))
    findings = []
    # A scope is (kind, access): kind 'namespace', 'class' or 'hidden' (a detail namespace).
    scopes = [('namespace', 'public')]
    declaration = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        kind, access = scopes[-1]
        if token == '}':
            scopes.pop()
            declaration = []
            index += 1
            continue
        if kind == 'class' and token in ('public', 'private', 'protected') and tokens[index + 1:index + 2] == [':']:
            scopes[-1] = (kind, token)
            declaration = []
            index += 2
            continue
        if token in ('(', '[') and declaration:
            end = skip_balanced(tokens, index, token, ')' if token == '(' else ']')
            declaration.extend(tokens[index:end])
            index = end
            continue
        if token == ';':
            report(findings, signature_of(declaration), kind, access)
            declaration = []
            index += 1
            continue
        if token == '{':
            words = [word for word in declaration if re.match(r'\w', word)]
            if 'namespace' in words:
                hidden = kind == 'hidden' or 'detail' in ''.join(declaration)
                scopes.append(('hidden' if hidden else 'namespace', 'public'))
            elif ('class' in words or 'struct' in words or 'union' in words) and '(' not in declaration:
                report(findings, declaration, kind, access)
                default = 'private' if 'class' in words else 'public'
                scopes.append(('hidden' if kind == 'hidden' else 'class', default))
            elif 'enum' in words or (declaration and declaration[-1] in ('=', ',')):
                index = skip_balanced(tokens, index, '{', '}')
                report(findings, declaration, kind, access)
                declaration = []
                continue
            else:  # a function body: only the signature is public
                report(findings, signature_of(declaration), kind, access)
                index = skip_balanced(tokens, index, '{', '}')
                if tokens[index:index + 1] == [';']:
                    index += 1
                declaration = []
                continue
            declaration = []
            index += 1
            continue
        declaration.append(token)
        index += 1
    return findings


def report(findings, declaration, kind, access):
    if kind == 'hidden' or access == 'private' or 'friend' in declaration:
        return
    if declaration[:2] == ['using', 'namespace'] and is_detail_namespace(declaration[2:]):
        findings.append((' '.join(declaration), 'using namespace ' + ''.join(declaration[2:])))
        return
    for token in declaration:
        if token.startswith('detail::') or '::detail::' in token:
            findings.append((' '.join(declaration), token))


def is_detail_namespace(name_tokens):
    name = ''.join(name_tokens)
    return name == 'detail' or name.endswith('::detail')


def user_problems(root):
    """Rule 5: detail and impl headers or detail:: names used by a program built on the library."""
    problems = []
    for folder in USER_FOLDERS:
        for path in sorted((root / folder).rglob('*')):
            relative = path.relative_to(root).as_posix()
            if path.suffix not in ('.cpp', '.hpp', '.ipp') or relative.startswith(LIBRARY_COMPONENTS):
                continue
            text = path.read_text()
            problems += [f'{relative} includes {name}: use the public headers'
                         for name in includes(path) if layer(name) != 'public']
            tokens = TOKEN.findall(strip(text))
            for index, token in enumerate(tokens):
                if token.startswith('detail::') or '::detail::' in token:
                    problems.append(f'{relative} uses {token}: detail:: is not part of the API')
                elif tokens[index:index + 2] == ['using', 'namespace'] and is_detail_namespace(
                        tokens[index + 2:tokens.index(';', index)] if ';' in tokens[index:] else []):
                    problems.append(f'{relative} says using namespace of a detail namespace')
    return problems


def levels(graph):
    level = {}

    def visit(name, trail):
        if name in trail:
            raise ValueError('include cycle: ' + ' -> '.join(trail + [name]))
        if name not in level:
            level[name] = 1 + max((visit(child, trail + [name]) for child in graph.get(name, [])), default=-1)
        return level[name]

    for name in graph:
        visit(name, [])
    return level


def main():
    root = Path(sys.argv[1])
    headers = {str(path.relative_to(root)): path
               for path in sorted([*root.glob('portpool/**/*.hpp'), *root.glob('portpool/**/*.ipp')])}
    graph = {name: [child for child in includes(path) if child in headers] for name, path in headers.items()}
    problems = []
    for name, children in graph.items():
        if layer(name) == 'detail':
            problems += [f'{name} includes {child}: detail/ may include only detail/'
                         for child in children if layer(child) != 'detail']
        if layer(name) == 'public':
            problems += [f'{name}: public declaration names {found}: {declaration[:160]}'
                         for declaration, found in public_detail_names(headers[name].read_text())]
    try:
        level = levels(graph)
    except ValueError as cycle:
        problems.append(str(cycle))
        level = {}
    if '--users' in sys.argv:
        problems += user_problems(Path(sys.argv[sys.argv.index('--users') + 1]))
    if '--graph' in sys.argv:
        for name in sorted(level, key=lambda header: (level[header], header)):
            print(f'{level[name]:2} {layer(name):7} {name}')
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
