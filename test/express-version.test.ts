import express from 'express';

// Guards the Express 4 run: EXPRESS_MAJOR=4 must really load Express 4 (it still has
// `express.query`, which Express 5 removed), and the default run Express 5.
describe('Express under test', () => {
  it(`is Express ${process.env.EXPRESS_MAJOR === '4' ? 4 : 5}`, () => {
    expect(typeof (express as unknown as { query?: unknown }).query).toBe(process.env.EXPRESS_MAJOR === '4' ? 'function' : 'undefined');
  });
});
