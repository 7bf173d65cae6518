-- group: intermediate
-- owners: data@shop.test
-- description: Order lines with their product and line total, computed in DuckDB.
select i.order_item_id, i.order_id, i.product_id, p.product_name, p.category,
       i.quantity, i.unit_price, i.quantity * i.unit_price as line_total
from stg_order_items i join stg_products p using (product_id)
order by i.order_item_id
