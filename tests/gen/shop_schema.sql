-- The sample shop's MySQL schema (docs/design.md, the data).  Its comments
-- are Japanese, as the shop's team writes them: ecsync carries them to the
-- PostgreSQL targets, where Metabase and Superset show them.  Secondary indexes
-- and foreign keys are in shop_indexes.sql, added after the bulk load, which
-- is several times faster than maintaining them row by row.
DROP TABLE IF EXISTS sales_details, sales, products, users;

CREATE TABLE users (
  id          INT UNSIGNED NOT NULL AUTO_INCREMENT COMMENT '会員ID',
  name        VARCHAR(64) NOT NULL COMMENT '氏名',
  email       VARCHAR(255) NOT NULL COMMENT 'メールアドレス',
  age         TINYINT UNSIGNED NULL COMMENT '年齢（未回答は NULL）',
  gender      ENUM('female','male','other') NULL COMMENT '性別（female: 女性、male: 男性、other: その他）',
  occupation  VARCHAR(32) NULL COMMENT '職業',
  created_at  DATETIME NOT NULL COMMENT '会員登録日時',
  updated_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
                ON UPDATE CURRENT_TIMESTAMP(6) COMMENT '最終更新日時（増分同期の基準）',
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='会員';

CREATE TABLE products (
  id          INT UNSIGNED NOT NULL AUTO_INCREMENT COMMENT '商品ID',
  name        VARCHAR(128) NOT NULL COMMENT '商品名',
  category    VARCHAR(32) NOT NULL COMMENT 'カテゴリ（ペン、ノート、ファイルなど）',
  price       DECIMAL(10,2) NOT NULL COMMENT '販売価格（円）',
  stock       INT NOT NULL DEFAULT 0 COMMENT '在庫数',
  created_at  DATETIME NOT NULL COMMENT '商品登録日時',
  updated_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
                ON UPDATE CURRENT_TIMESTAMP(6) COMMENT '最終更新日時（増分同期の基準）',
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='商品';

CREATE TABLE sales (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT COMMENT '注文ID',
  user_id     INT UNSIGNED NOT NULL COMMENT '購入した会員の会員ID（users.id）',
  sold_at     DATETIME NOT NULL COMMENT '購入日時',
  total       DECIMAL(12,2) NOT NULL COMMENT '注文の合計金額（円）',
  status      ENUM('pending','paid','shipped','cancelled','refunded') NOT NULL COMMENT '注文状態（pending: 決済待ち、paid: 決済済み、shipped: 発送済み、cancelled: キャンセル、refunded: 返金済み）',
  updated_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
                ON UPDATE CURRENT_TIMESTAMP(6) COMMENT '最終更新日時（増分同期の基準）',
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='売上（注文）';

CREATE TABLE sales_details (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT COMMENT '明細ID',
  sale_id     BIGINT UNSIGNED NOT NULL COMMENT '注文ID（sales.id）',
  product_id  INT UNSIGNED NOT NULL COMMENT '商品ID（products.id）',
  quantity    SMALLINT UNSIGNED NOT NULL COMMENT '数量',
  unit_price  DECIMAL(10,2) NOT NULL COMMENT '購入時の単価（円）',
  updated_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
                ON UPDATE CURRENT_TIMESTAMP(6) COMMENT '最終更新日時（増分同期の基準）',
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='売上明細（注文の商品ごとの行）';
