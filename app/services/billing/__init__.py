"""Credits, orders, payments, subscriptions, reports and notices."""
