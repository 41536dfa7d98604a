// Every part of the public API carries a doc comment (issue 10, item 4): what users see on hover in
// their editor is the JSDoc that tsc copies into the declarations. The public surface is what the
// three package entries export, followed through re-exports and aliases, plus every type of
// web/src that an exported declaration names (a field typed `FooOptions` makes FooOptions public
// even if no entry exports it). The test lists every declaration and member on that surface that
// has no doc comment.
import { fileURLToPath } from 'node:url';

import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const srcDir = `${root}web/src/`;
const entries = ['index.ts', 'node.ts', 'worker.ts'].map((f) => srcDir + f);

interface Finding { where: string; what: string }

function hasDoc(node: ts.Node): boolean {
  // getJSDocCommentsAndTags looks through to the VariableStatement for `export const x`.
  return ts.getJSDocCommentsAndTags(node).some((d) => ts.isJSDoc(d) ? !!d.comment || (d.tags?.length ?? 0) > 0 : true);
}

function isOwnSource(sf: ts.SourceFile): boolean {
  return sf.fileName.startsWith(srcDir) && !sf.isDeclarationFile;
}

function isPublicClassMember(m: ts.ClassElement): boolean {
  if (ts.isConstructorDeclaration(m) || ts.isClassStaticBlockDeclaration(m) || ts.isSemicolonClassElement(m)) return false;
  if (m.name && ts.isPrivateIdentifier(m.name)) return false;
  const mods = ts.canHaveModifiers(m) ? ts.getModifiers(m) ?? [] : [];
  return !mods.some((x) => x.kind === ts.SyntaxKind.PrivateKeyword || x.kind === ts.SyntaxKind.ProtectedKeyword);
}

// A member of an inline type literal, `offsets: Map<string, { begin: number; end: number }>` or
// `f(options: { overwrite?: boolean })`, may instead be documented by the comment of what holds the
// literal: that comment names it in backticks ("absolute [`begin`, `end`) of every tensor"), or, for a
// parameter, the function has `@param options.overwrite ...`.
function documentedByOwner(m: ts.Node): boolean {
  const literal = m.parent;
  const name = ts.isIndexSignatureDeclaration(m) ? `[${m.parameters.map((p) => p.getText()).join(', ')}]` : (m as ts.NamedDeclaration).name?.getText();
  if (!ts.isTypeLiteralNode(literal) || !name) return false;
  let holder: ts.Node = literal.parent;
  while (ts.isTypeNode(holder)) holder = holder.parent;
  const texts = (node: ts.Node) => ts.getJSDocCommentsAndTags(node).map((d) => ts.isJSDoc(d)
    ? [ts.getTextOfJSDocComment(d.comment) ?? '', ...(d.tags ?? []).map((t) => ts.getTextOfJSDocComment(t.comment) ?? '')].join('\n')
    : ts.getTextOfJSDocComment(d.comment) ?? '');
  // A callback's event, `onTensor?: (e: { name: string }) => void`: the member's comment documents it.
  while (ts.isParameter(holder) && ts.isFunctionTypeNode(holder.parent)) {
    holder = holder.parent;
    while (ts.isTypeNode(holder)) holder = holder.parent;
  }
  if (ts.isParameter(holder)) {
    const path = `${holder.name.getText()}.${name}`;
    return ts.getJSDocTags(holder.parent).some((t) => ts.isJSDocParameterTag(t) && t.name.getText() === path && !!t.comment);
  }
  return texts(holder).some((t) => t.includes(`\`${name}\``));
}

/** The object literal of `{...}`, `{...} as const` or `Object.freeze({...})`, if that is what `e` is. */
function objectLiteralOf(e: ts.Expression | undefined): ts.ObjectLiteralExpression | undefined {
  while (e && (ts.isAsExpression(e) || ts.isSatisfiesExpression(e) || ts.isParenthesizedExpression(e))) e = e.expression;
  if (e && ts.isCallExpression(e) && e.expression.getText() === 'Object.freeze' && e.arguments.length === 1) return objectLiteralOf(e.arguments[0]);
  return e && ts.isObjectLiteralExpression(e) ? e : undefined;
}

function memberName(m: ts.NamedDeclaration): string {
  return m.name ? m.name.getText() : ts.isIndexSignatureDeclaration(m) ? '[index]' : ts.isCallSignatureDeclaration(m) ? '()' : '(new)';
}

/**
 * Walks the public surface: a queue of symbols (the entries' exports, then every type of web/src
 * they name), each declaration checked for a comment, its members too.
 */
class SurfaceWalker {
  readonly #checker: ts.TypeChecker;
  readonly #findings = new Map<string, Finding>();
  readonly #seen = new Set<ts.Symbol>();
  readonly #queue: ts.Symbol[] = [];

  constructor(readonly program: ts.Program) {
    this.#checker = program.getTypeChecker();
  }

  /** Every undocumented declaration or member reachable from `entryFiles`, sorted by place. */
  run(entryFiles: readonly string[]): Finding[] {
    for (const entry of entryFiles) {
      const sf = this.program.getSourceFile(entry);
      const mod = sf && this.#checker.getSymbolAtLocation(sf);
      if (!mod) throw new Error(`entry ${entry} is not a module`);
      this.#checker.getExportsOfModule(mod).forEach((s) => this.enqueue(s));
      // An entry without exports (the worker script) still says what it is, in a leading comment.
      if (!/^\s*\/\*\*/.test(sf.text)) this.report(sf, `module comment of ${entry.slice(srcDir.length)}`);
    }
    while (this.#queue.length > 0) {
      const sym = this.#queue.shift()!;
      for (const d of sym.declarations ?? []) {
        if (isOwnSource(d.getSourceFile())) this.visitDeclaration(d, sym.getName());
      }
    }
    return [...this.#findings.values()].sort((a, b) => a.where.localeCompare(b.where, 'en', { numeric: true }));
  }

  report(node: ts.Node, what: string): void {
    const sf = node.getSourceFile();
    const { line } = sf.getLineAndCharacterOfPosition(node.getStart());
    const where = `${sf.fileName.slice(root.length)}:${line + 1}`;
    this.#findings.set(`${where} ${what}`, { where, what });
  }

  enqueue(sym: ts.Symbol | undefined): void {
    if (!sym) return;
    if (sym.flags & ts.SymbolFlags.Alias) sym = this.#checker.getAliasedSymbol(sym);
    if (this.#seen.has(sym)) return;
    this.#seen.add(sym);
    this.#queue.push(sym);
  }

  /** Type references inside a signature or type join the queue; type literals have their members checked in place (`owner.member.sub`). */
  walkType(node: ts.Node | undefined, owner: string): void {
    if (!node) return;
    const c = this.#checker;
    const right = (n: ts.EntityName | ts.Expression) => (ts.isQualifiedName(n) ? n.right : n);
    if (ts.isTypeReferenceNode(node)) this.enqueue(c.getSymbolAtLocation(right(node.typeName)));
    else if (ts.isExpressionWithTypeArguments(node)) this.enqueue(c.getSymbolAtLocation(node.expression));
    else if (ts.isTypeQueryNode(node)) this.enqueue(c.getSymbolAtLocation(right(node.exprName)));
    else if (ts.isImportTypeNode(node) && node.qualifier) this.enqueue(c.getSymbolAtLocation(right(node.qualifier)));
    else if (ts.isTypeLiteralNode(node)) {
      for (const m of node.members) this.checkMember(m, owner);
      return;
    }
    ts.forEachChild(node, (child) => this.walkType(child, owner));
  }

  /** An inferred type (no annotation) names no type in the source, but the declarations spell it out: the named types inside it are public too. */
  enqueueInferred(type: ts.Type, depth = 0): void {
    if (depth > 3) return;
    this.enqueue(type.aliasSymbol);
    if (type.symbol && !(type.symbol.flags & (ts.SymbolFlags.TypeLiteral | ts.SymbolFlags.ObjectLiteral))) this.enqueue(type.symbol);
    type.aliasTypeArguments?.forEach((t) => this.enqueueInferred(t, depth + 1));
    if (type.isUnionOrIntersection()) type.types.forEach((t) => this.enqueueInferred(t, depth + 1));
    if (type.flags & ts.TypeFlags.Object && (type as ts.ObjectType).objectFlags & ts.ObjectFlags.Reference) {
      this.#checker.getTypeArguments(type as ts.TypeReference).forEach((t) => this.enqueueInferred(t, depth + 1));
    }
  }

  walkSignature(node: ts.SignatureDeclaration, owner: string): void {
    node.typeParameters?.forEach((p) => this.walkType(p, owner));
    node.parameters.forEach((p) => this.walkType(p.type, `${owner}(${p.name.getText()})`));
    this.walkType(node.type, `${owner}()`);
    const sig = node.type || ts.isConstructorDeclaration(node) ? undefined : this.#checker.getSignatureFromDeclaration(node);
    if (sig) this.enqueueInferred(this.#checker.getReturnTypeOfSignature(sig));
  }

  checkMember(m: ts.TypeElement | ts.ClassElement | ts.EnumMember, owner: string): void {
    const name = `${owner}.${memberName(m as ts.NamedDeclaration)}`;
    if (!hasDoc(m) && !documentedByOwner(m)) this.report(m, name);
    if (ts.isPropertySignature(m) || ts.isPropertyDeclaration(m) || ts.isIndexSignatureDeclaration(m)) this.walkType(m.type, name);
    else if (ts.isFunctionLike(m)) this.walkSignature(m, name);
  }

  visitDeclaration(d: ts.Declaration, name: string): void {
    const kind = ts.isInterfaceDeclaration(d) ? 'interface' : ts.isTypeAliasDeclaration(d) ? 'type' : ts.isClassDeclaration(d) ? 'class'
      : ts.isFunctionDeclaration(d) ? 'function' : ts.isVariableDeclaration(d) ? 'const' : ts.isEnumDeclaration(d) ? 'enum' : undefined;
    if (!kind) return;
    if (!hasDoc(d)) this.report(d, `${kind} ${name}`);
    if (ts.isInterfaceDeclaration(d) || ts.isClassDeclaration(d)) {
      d.heritageClauses?.forEach((h) => h.types.forEach((t) => this.walkType(t, name)));
      d.typeParameters?.forEach((p) => this.walkType(p, name));
    }
    if (ts.isInterfaceDeclaration(d)) d.members.forEach((m) => this.checkMember(m, name));
    else if (ts.isTypeAliasDeclaration(d)) {
      d.typeParameters?.forEach((p) => this.walkType(p, name));
      this.walkType(d.type, name);
    } else if (ts.isClassDeclaration(d)) {
      d.members.filter(isPublicClassMember).forEach((m) => this.checkMember(m, name));
      // A public constructor's parameter types are public too (the class comment covers the constructor).
      d.members.filter(ts.isConstructorDeclaration).forEach((c) => this.walkSignature(c, name));
    } else if (ts.isFunctionDeclaration(d)) this.walkSignature(d, name);
    else if (ts.isVariableDeclaration(d)) this.visitConst(d, name);
    else if (ts.isEnumDeclaration(d)) d.members.forEach((m) => this.checkMember(m, name));
  }

  visitConst(d: ts.VariableDeclaration, name: string): void {
    this.walkType(d.type, name);
    if (d.type) return;
    this.enqueueInferred(this.#checker.getTypeAtLocation(d));
    // Without an annotation the object literal is the type users see (`ggufValue.u32(...)`).
    objectLiteralOf(d.initializer)?.properties.forEach((p) => {
      if (!hasDoc(p)) this.report(p, `${name}.${p.name?.getText() ?? '...'}`);
    });
  }
}

/** Every undocumented declaration or member on the public surface of the three entries. */
function undocumented(): Finding[] {
  const program = ts.createProgram(entries, {
    strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022, moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'], types: ['node'], noEmit: true,
  });
  return new SurfaceWalker(program).run(entries);
}

describe('public API documentation', () => {
  it('documents every exported declaration and every public member reachable from the entries', () => {
    const missing = undocumented();
    const list = missing.map((f) => `  ${f.where}  ${f.what}`).join('\n');
    if (missing.length > 0) console.log(`${missing.length} undocumented public members:\n${list}`);
    expect(missing.length, `undocumented public members (add a /** ... */ comment):\n${list}`).toBe(0);
  });
});
