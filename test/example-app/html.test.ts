import { Html, escapeHtml, html, page } from '../../example-app/html.js';

describe('example app HTML', () => {
  it('escapes the five HTML-special characters', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });

  it('escapes every interpolated value of the html`` template, arrays included', () => {
    const name = '<script>alert(1)</script>';
    expect(html`<p>${name}</p>`.value).toBe('<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>');
    expect(html`<ul>${['<b>', 'c"d'].map((s) => html`<li>${s}</li>`)}</ul>`.value).toBe('<ul><li>&lt;b&gt;</li><li>c&quot;d</li></ul>');
  });

  it('keeps markup built with html`` or Html as is, and drops undefined, null and false', () => {
    expect(html`${html`<b>ok</b>`}${new Html('<i>x</i>')}${undefined}${null}${false}`.value).toBe('<b>ok</b><i>x</i>');
  });

  it('escapes the page title', () => {
    const out = page({ title: '</title><script>', brand: 'b', body: html`` });
    expect(out).toContain('<title>&lt;/title&gt;&lt;script&gt;</title>');
    expect(out).not.toContain('<script>');
  });
});
