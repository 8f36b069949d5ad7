// TypeDoc plugin: files each exported name of the reference under the part of the package it
// belongs to (Sign-in, API guard, Sessions, Issuer, Errors and logging), by the source folder it
// is declared in, so the source files need no @group tags. An explicit @group in a comment wins.
import { Comment, CommentTag, Converter, ReflectionKind } from 'typedoc';

/** Names filed elsewhere than their folder says. */
const BY_NAME = {
  SessionAdmin: 'Sessions',
  SessionOptions: 'Sessions',
  SessionCookieOptions: 'Sessions',
  ClaimValue: 'API guard',
  Logger: 'Errors and logging',
  VERSION: 'Errors and logging',
};

/** First match wins; paths are relative to the package root. */
const BY_PATH = [
  [/^src\/login\/session-data\.ts$/, 'Sessions'],
  [/^src\/(session|redis)\//, 'Sessions'],
  [/^src\/(login\/|config\/login-|claims\.ts$)/, 'Sign-in'],
  [/^src\/bearer\//, 'API guard'],
  [/^src\/issuer\//, 'Issuer'],
  [/^src\/(errors|util)\//, 'Errors and logging'],
];

export function groupOf(name, packagePath, isClass) {
  if (BY_NAME[name]) return BY_NAME[name];
  if (isClass && name.endsWith('Error')) return 'Errors and logging';
  for (const [pattern, group] of BY_PATH) if (pattern.test(packagePath)) return group;
  return undefined;
}

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const module of context.project.getReflectionsByKind(ReflectionKind.Module)) {
      for (const child of module.children ?? []) {
        if (child.kindOf(ReflectionKind.Reference)) continue;
        const id = context.project.getSymbolIdFromReflection(child);
        const group = groupOf(child.name, id?.packagePath ?? '', child.kindOf(ReflectionKind.Class));
        if (!group || child.comment?.getTag('@group')) continue;
        child.comment ??= new Comment();
        child.comment.blockTags.push(new CommentTag('@group', [{ kind: 'text', text: group }]));
      }
    }
  });
}
