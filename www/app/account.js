// The account pages (not built yet).
export {};
