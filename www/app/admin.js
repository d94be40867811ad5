// The admin dashboard (not built yet).
export {};
