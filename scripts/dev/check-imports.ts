// Checks the layering of the source folders (see docs/layout.md) from the imports the code makes,
// with the type checker telling a value import from a type-only one:
//   npx tsx scripts/dev/check-imports.ts
// Prints every broken rule and every cycle of value imports; exits 1 when there is any.
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '..', '..');
const SOURCE_FOLDERS = ['contracts', 'workflows', 'activities', 'lib', 'serving', 'workers', 'scripts'];

interface ImportEdge {
  from: string;
  to: string;
  /** Whether the import brings a runtime value (a type-only import vanishes from the emitted JS). */
  carriesValue: boolean;
  line: number;
}

interface LayerRule {
  /** The folder whose files the rule constrains. */
  folder: string;
  /** Folders those files must not import from. */
  forbidden: string[];
  /** Whether importing only types from a forbidden folder is allowed. */
  typesAllowed: boolean;
  why: string;
}

const RULES: LayerRule[] = [
  {
    folder: 'contracts',
    forbidden: SOURCE_FOLDERS.filter((folder) => folder !== 'contracts'),
    typesAllowed: false,
    why: 'contracts/ is the ground floor: it imports nothing of this project outside itself',
  },
  {
    folder: 'workflows',
    forbidden: ['activities', 'lib', 'serving', 'workers', 'scripts'],
    typesAllowed: true,
    why: 'workflow code must stay deterministic: it imports values only from contracts/ (types from anywhere)',
  },
  {
    folder: 'activities',
    forbidden: ['workflows', 'serving', 'workers', 'scripts'],
    typesAllowed: false,
    why: 'activities/ sits below the workflows and talks to the prediction server over HTTP only',
  },
  {
    folder: 'serving',
    forbidden: ['workflows', 'activities', 'workers', 'scripts'],
    typesAllowed: false,
    why: 'the prediction server is its own process, built on contracts/ and lib/ only',
  },
  {
    folder: 'lib',
    forbidden: ['workflows', 'activities', 'serving', 'workers', 'scripts'],
    typesAllowed: false,
    why: 'lib/ holds what several stages share, so it depends on no stage, server or command',
  },
];

function topFolder(file: string): string {
  return path.relative(ROOT, file).split(path.sep)[0] ?? '';
}

function isSource(file: string): boolean {
  return !file.includes(`${path.sep}node_modules${path.sep}`) && SOURCE_FOLDERS.includes(topFolder(file));
}

function loadProgram(): ts.Program {
  const configFile = path.join(ROOT, 'tsconfig.json');
  const { config, error } = ts.readConfigFile(configFile, (file) => ts.sys.readFile(file)) as {
    config: unknown;
    error?: ts.Diagnostic;
  };
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, ROOT);
  return ts.createProgram(parsed.fileNames, parsed.options);
}

function isValueSymbol(checker: ts.TypeChecker, symbol: ts.Symbol | undefined): boolean {
  if (!symbol) return true; // unresolved: assume the worst
  const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
  return (target.flags & ts.SymbolFlags.Value) !== 0;
}

/** Whether an import or re-export declaration brings at least one runtime value. */
function carriesValue(checker: ts.TypeChecker, node: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isImportDeclaration(node)) {
    const clause = node.importClause;
    if (!clause) return true; // a side-effect import runs the module
    if (clause.isTypeOnly) return false;
    if (clause.name && isValueSymbol(checker, checker.getSymbolAtLocation(clause.name))) return true;
    const bindings = clause.namedBindings;
    if (!bindings) return false;
    if (ts.isNamespaceImport(bindings))
      return isValueSymbol(checker, checker.getSymbolAtLocation(bindings.name));
    return bindings.elements.some(
      (element) => !element.isTypeOnly && isValueSymbol(checker, checker.getSymbolAtLocation(element.name)),
    );
  }
  if (node.isTypeOnly) return false;
  const clause = node.exportClause;
  if (!clause) {
    // `export * from`: a value when the target module exports any value
    const target = node.moduleSpecifier && checker.getSymbolAtLocation(node.moduleSpecifier);
    return !target || checker.getExportsOfModule(target).some((symbol) => isValueSymbol(checker, symbol));
  }
  if (ts.isNamespaceExport(clause)) return true;
  return clause.elements.some(
    (element) =>
      !element.isTypeOnly && isValueSymbol(checker, checker.getExportSpecifierLocalTargetSymbol(element)),
  );
}

function collectEdges(program: ts.Program): ImportEdge[] {
  const checker = program.getTypeChecker();
  const edges: ImportEdge[] = [];
  for (const sourceFile of program.getSourceFiles()) {
    if (!isSource(sourceFile.fileName)) continue;
    for (const statement of sourceFile.statements) {
      if (!ts.isImportDeclaration(statement) && !ts.isExportDeclaration(statement)) continue;
      const specifier = statement.moduleSpecifier;
      if (!specifier || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) continue;
      const resolved = ts.resolveModuleName(
        specifier.text,
        sourceFile.fileName,
        program.getCompilerOptions(),
        ts.sys,
      ).resolvedModule;
      if (!resolved || !isSource(resolved.resolvedFileName)) continue;
      edges.push({
        from: path.resolve(sourceFile.fileName),
        to: path.resolve(resolved.resolvedFileName),
        carriesValue: carriesValue(checker, statement),
        line: sourceFile.getLineAndCharacterOfPosition(statement.getStart()).line + 1,
      });
    }
  }
  return edges;
}

/** `activities/<stage>/…` → the stage; undefined for files outside a stage folder. */
function stageOf(file: string): string | undefined {
  const [top, stage, ...rest] = path.relative(ROOT, file).split(path.sep);
  return top === 'activities' && rest.length > 0 ? stage : undefined;
}

function layerViolations(edges: ImportEdge[]): string[] {
  const problems: string[] = [];
  for (const edge of edges) {
    const [fromStage, toStage] = [stageOf(edge.from), stageOf(edge.to)];
    if (fromStage && toStage && fromStage !== toStage) {
      problems.push(
        `${path.relative(ROOT, edge.from)}:${edge.line} imports from ${path.relative(ROOT, edge.to)} ` +
          `(a stage's code is its own: what two stages share belongs in lib/ or contracts/)`,
      );
    }
    for (const rule of RULES) {
      if (topFolder(edge.from) !== rule.folder || !rule.forbidden.includes(topFolder(edge.to))) continue;
      if (rule.typesAllowed && !edge.carriesValue) continue;
      problems.push(
        `${path.relative(ROOT, edge.from)}:${edge.line} imports ${edge.carriesValue ? 'values' : 'types'} ` +
          `from ${path.relative(ROOT, edge.to)} (${rule.why})`,
      );
    }
  }
  return problems;
}

/** Strongly connected components of more than one file (Tarjan), over value imports only. */
function valueCycles(edges: ImportEdge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const edge of edges.filter((candidate) => candidate.carriesValue)) {
    next.set(edge.from, [...(next.get(edge.from) ?? []), edge.to]);
  }
  const index = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (file: string): void => {
    index.set(file, index.size);
    lowLink.set(file, index.get(file)!);
    stack.push(file);
    onStack.add(file);
    for (const target of next.get(file) ?? []) {
      if (!index.has(target)) {
        visit(target);
        lowLink.set(file, Math.min(lowLink.get(file)!, lowLink.get(target)!));
      } else if (onStack.has(target)) {
        lowLink.set(file, Math.min(lowLink.get(file)!, index.get(target)!));
      }
    }
    if (lowLink.get(file) !== index.get(file)) return;
    const component: string[] = [];
    for (let member = stack.pop()!; ; member = stack.pop()!) {
      onStack.delete(member);
      component.push(path.relative(ROOT, member));
      if (member === file) break;
    }
    if (component.length > 1) components.push(component.sort());
  };
  for (const file of next.keys()) if (!index.has(file)) visit(file);
  return components;
}

function main(): void {
  const edges = collectEdges(loadProgram());
  const violations = layerViolations(edges);
  const cycles = valueCycles(edges);
  for (const violation of violations) console.error(`layer: ${violation}`);
  for (const cycle of cycles) console.error(`cycle of value imports: ${cycle.join(' <-> ')}`);
  const files = new Set(edges.flatMap((edge) => [edge.from, edge.to])).size;
  const valueEdges = edges.filter((edge) => edge.carriesValue).length;
  console.log(
    `checked ${edges.length} imports (${valueEdges} carry values) between ${files} files: ` +
      `${violations.length} layer violations, ${cycles.length} value-import cycles`,
  );
  if (violations.length > 0 || cycles.length > 0) process.exitCode = 1;
}

main();
