-- Secondary indexes and foreign keys of the sample shop, added after the
-- bulk load.  (updated_at, id) serves incremental syncs.
SET foreign_key_checks = 0;
ALTER TABLE users ADD UNIQUE KEY users_email (email),
  ADD KEY users_updated (updated_at, id);
ALTER TABLE products ADD KEY products_category (category),
  ADD KEY products_updated (updated_at, id);
ALTER TABLE sales ADD KEY sales_user (user_id), ADD KEY sales_sold (sold_at),
  ADD KEY sales_updated (updated_at, id),
  ADD CONSTRAINT sales_user_fk FOREIGN KEY (user_id) REFERENCES users (id);
ALTER TABLE sales_details ADD KEY details_sale (sale_id),
  ADD KEY details_updated (updated_at, id),
  ADD CONSTRAINT details_sale_fk FOREIGN KEY (sale_id) REFERENCES sales (id),
  ADD CONSTRAINT details_product_fk FOREIGN KEY (product_id) REFERENCES products (id);
SET foreign_key_checks = 1;
