-- group: intermediate
-- owners: finance@shop.test
-- description: One row per order with its item count, order total and what was paid.
-- checks: not_null("order_id"), unique("order_id"), accepted_values("status", ["placed", "shipped", "completed", "returned", "cancelled"]), relationships("customer_id", to="stg_customers", field="customer_id"), expect("amount_paid >= order_total", severity="warn")
select o.order_id, o.customer_id, o.order_date, o.status,
       coalesce(items.items, 0) as items,
       round(coalesce(items.order_total, 0), 2) as order_total,
       round(coalesce(paid.amount_paid, 0), 2) as amount_paid
from stg_orders o
left join (
    select order_id, sum(quantity)::bigint as items, sum(line_total) as order_total
    from order_items group by order_id
) items using (order_id)
left join (
    select order_id, sum(amount) as amount_paid from stg_payments group by order_id
) paid using (order_id)
order by o.order_id
