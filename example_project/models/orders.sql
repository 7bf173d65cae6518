-- group: intermediate
-- owners: finance@shop.test
-- description: One row per order with its item count, order total and what was paid.
with items as (
    select order_id, sum(quantity)::bigint as items, sum(line_total) as order_total
    from order_items group by order_id
), paid as (
    select order_id, sum(amount) as amount_paid from stg_payments group by order_id
)
select o.order_id, o.customer_id, o.order_date, o.status,
       coalesce(items.items, 0) as items,
       round(coalesce(items.order_total, 0), 2) as order_total,
       round(coalesce(paid.amount_paid, 0), 2) as amount_paid
from stg_orders o left join items using (order_id) left join paid using (order_id)
order by o.order_id
