// Accounting
