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

/** Walks the public surface from the entries; returns every undocumented declaration or member. */
function undocumented(): Finding[] {
  const program = ts.createProgram(entries, {
    strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022, moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'], types: ['node'], noEmit: true,
  });
  const checker = program.getTypeChecker();
  const findings = new Map<string, Finding>();
  const seen = new Set<ts.Symbol>();
  const queue: ts.Symbol[] = [];

  const report = (node: ts.Node, what: string): void => {
    const sf = node.getSourceFile();
    const { line } = sf.getLineAndCharacterOfPosition(node.getStart());
    const where = `${sf.fileName.slice(root.length)}:${line + 1}`;
    findings.set(`${where} ${what}`, { where, what });
  };
  const enqueue = (sym: ts.Symbol | undefined): void => {
    if (!sym) return;
    if (sym.flags & ts.SymbolFlags.Alias) sym = checker.getAliasedSymbol(sym);
    if (seen.has(sym)) return;
    seen.add(sym);
    queue.push(sym);
  };
  // Type references inside a signature or type: named types join the queue, type literals have
  // their members checked in place (`owner.member.sub`).
  const walkType = (node: ts.Node | undefined, owner: string): void => {
    if (!node) return;
    if (ts.isTypeReferenceNode(node) || ts.isExpressionWithTypeArguments(node)) {
      const target = ts.isTypeReferenceNode(node) ? node.typeName : node.expression;
      enqueue(checker.getSymbolAtLocation(ts.isQualifiedName(target) ? target.right : target));
    } else if (ts.isTypeQueryNode(node)) {
      enqueue(checker.getSymbolAtLocation(ts.isQualifiedName(node.exprName) ? node.exprName.right : node.exprName));
    } else if (ts.isImportTypeNode(node) && node.qualifier) {
      enqueue(checker.getSymbolAtLocation(ts.isQualifiedName(node.qualifier) ? node.qualifier.right : node.qualifier));
    } else if (ts.isTypeLiteralNode(node)) {
      for (const m of node.members) checkMember(m, owner);
      return;
    }
    ts.forEachChild(node, (c) => walkType(c, owner));
  };
  // An inferred type (no annotation) names no type in the source, but the declarations spell it out:
  // the named types inside it are public too.
  const enqueueInferred = (type: ts.Type, depth = 0): void => {
    if (depth > 3) return;
    enqueue(type.aliasSymbol);
    if (type.symbol && !(type.symbol.flags & ts.SymbolFlags.TypeLiteral) && !(type.symbol.flags & ts.SymbolFlags.ObjectLiteral)) enqueue(type.symbol);
    type.aliasTypeArguments?.forEach((t) => enqueueInferred(t, depth + 1));
    if (type.isUnionOrIntersection()) type.types.forEach((t) => enqueueInferred(t, depth + 1));
    if (type.flags & ts.TypeFlags.Object && (type as ts.ObjectType).objectFlags & ts.ObjectFlags.Reference) {
      checker.getTypeArguments(type as ts.TypeReference).forEach((t) => enqueueInferred(t, depth + 1));
    }
  };
  const walkSignature = (node: ts.SignatureDeclaration, owner: string): void => {
    node.typeParameters?.forEach((p) => walkType(p, owner));
    node.parameters.forEach((p) => walkType(p.type, `${owner}(${p.name.getText()})`));
    walkType(node.type, `${owner}()`);
    const sig = node.type ? undefined : checker.getSignatureFromDeclaration(node);
    if (sig && !ts.isConstructorDeclaration(node)) enqueueInferred(checker.getReturnTypeOfSignature(sig));
  };
  const checkMember = (m: ts.TypeElement | ts.ClassElement | ts.EnumMember, owner: string): void => {
    const name = `${owner}.${memberName(m as ts.NamedDeclaration)}`;
    if (!hasDoc(m) && !documentedByOwner(m)) report(m, name);
    if (ts.isPropertySignature(m) || ts.isPropertyDeclaration(m) || ts.isIndexSignatureDeclaration(m)) walkType(m.type, name);
    else if (ts.isFunctionLike(m)) walkSignature(m, name);
  };

  const visitDeclaration = (d: ts.Declaration, name: string): void => {
    if (ts.isInterfaceDeclaration(d)) {
      if (!hasDoc(d)) report(d, `interface ${name}`);
      d.heritageClauses?.forEach((h) => h.types.forEach((t) => walkType(t, name)));
      d.typeParameters?.forEach((p) => walkType(p, name));
      d.members.forEach((m) => checkMember(m, name));
    } else if (ts.isTypeAliasDeclaration(d)) {
      if (!hasDoc(d)) report(d, `type ${name}`);
      d.typeParameters?.forEach((p) => walkType(p, name));
      walkType(d.type, name);
    } else if (ts.isClassDeclaration(d)) {
      if (!hasDoc(d)) report(d, `class ${name}`);
      d.heritageClauses?.forEach((h) => h.types.forEach((t) => walkType(t, name)));
      d.members.filter(isPublicClassMember).forEach((m) => checkMember(m, name));
      // A public constructor's parameter types are public too (the constructor itself is covered by
      // the class comment).
      d.members.filter(ts.isConstructorDeclaration).forEach((c) => walkSignature(c, name));
    } else if (ts.isFunctionDeclaration(d)) {
      if (!hasDoc(d)) report(d, `function ${name}`);
      walkSignature(d, name);
    } else if (ts.isVariableDeclaration(d)) {
      if (!hasDoc(d)) report(d, `const ${name}`);
      walkType(d.type, name);
      if (!d.type) enqueueInferred(checker.getTypeAtLocation(d));
      // Without an annotation the object literal is the type users see (`ggufValue.u32(...)`).
      const literal = d.type ? undefined : objectLiteralOf(d.initializer);
      literal?.properties.forEach((p) => {
        if (!hasDoc(p)) report(p, `${name}.${p.name?.getText() ?? '...'}`);
      });
    } else if (ts.isEnumDeclaration(d)) {
      if (!hasDoc(d)) report(d, `enum ${name}`);
      d.members.forEach((m) => checkMember(m, name));
    }
  };

  for (const entry of entries) {
    const sf = program.getSourceFile(entry);
    const mod = sf && checker.getSymbolAtLocation(sf);
    if (!mod) throw new Error(`entry ${entry} is not a module`);
    checker.getExportsOfModule(mod).forEach(enqueue);
    // An entry without exports (the worker script) still says what it is, in a leading comment.
    if (!/^\s*\/\*\*/.test(sf.text)) report(sf, `module comment of ${entry.slice(srcDir.length)}`);
  }
  while (queue.length > 0) {
    const sym = queue.shift()!;
    for (const d of sym.declarations ?? []) {
      if (isOwnSource(d.getSourceFile())) visitDeclaration(d, sym.getName());
    }
  }
  return [...findings.values()].sort((a, b) => a.where.localeCompare(b.where, 'en', { numeric: true }));
}

describe('public API documentation', () => {
  it('documents every exported declaration and every public member reachable from the entries', () => {
    const missing = undocumented();
    const list = missing.map((f) => `  ${f.where}  ${f.what}`).join('\n');
    if (missing.length > 0) console.log(`${missing.length} undocumented public members:\n${list}`);
    expect(missing.length, `undocumented public members (add a /** ... */ comment):\n${list}`).toBe(0);
  });
});
