"""live stage contests: contests, entrants, players, rounds, their questions, buzzes, stakes and
the score ledger; quiz.mode gains "live" (a contest's hidden quiz carries the answers on phones)

Revision ID: 0011_live
Revises: 0010_checks
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0011_live"
down_revision = "0010_checks"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('live_contest',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('mode', sa.String(length=12), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('join_code', sa.String(length=16), nullable=False),
    sa.Column('quiz_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('phase', sa.String(length=12), nullable=False),
    sa.Column('current_id', sa.Integer(), nullable=True),
    sa.Column('phase_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sound', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("mode IN ('teams', 'individuals')", name=op.f('ck_live_contest_mode')),
    sa.CheckConstraint("phase IN ('lobby', 'open', 'started', 'answering', 'closed', 'revealed', 'scoreboard', 'podium')", name=op.f('ck_live_contest_phase')),
    sa.CheckConstraint("status IN ('setup', 'running', 'finished')", name=op.f('ck_live_contest_status')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_live_contest_created_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['quiz_id'], ['quiz.id'], name=op.f('fk_live_contest_quiz_id_quiz'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_live_contest_unit_id_unit'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_contest')),
    sa.UniqueConstraint('join_code', name=op.f('uq_live_contest_join_code'))
    )
    with op.batch_alter_table('live_contest', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_contest_unit_id'), ['unit_id'], unique=False)

    op.create_table('live_entrant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contest_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('base_score', sa.Float(), nullable=False),
    sa.Column('team_code', sa.String(length=16), nullable=True),
    sa.Column('members', sa.JSON(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contest_id'], ['live_contest.id'], name=op.f('fk_live_entrant_contest_id_live_contest'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_live_entrant_unit_id_unit'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_entrant')),
    sa.UniqueConstraint('contest_id', 'name', name=op.f('uq_live_entrant_contest_id_name')),
    sa.UniqueConstraint('contest_id', 'team_code', name=op.f('uq_live_entrant_contest_id_team_code'))
    )
    with op.batch_alter_table('live_entrant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_entrant_contest_id'), ['contest_id'], unique=False)

    op.create_table('live_round',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contest_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['contest_id'], ['live_contest.id'], name=op.f('fk_live_round_contest_id_live_contest'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_round'))
    )
    with op.batch_alter_table('live_round', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_round_contest_id'), ['contest_id'], unique=False)

    op.create_table('live_player',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contest_id', sa.Integer(), nullable=False),
    sa.Column('entrant_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=32), nullable=False),
    sa.Column('rtt_ms', sa.Float(), nullable=True),
    sa.Column('rtt_samples', sa.JSON(), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['contest_id'], ['live_contest.id'], name=op.f('fk_live_player_contest_id_live_contest'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entrant_id'], ['live_entrant.id'], name=op.f('fk_live_player_entrant_id_live_entrant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_live_player_participant_id_participant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_player')),
    sa.UniqueConstraint('contest_id', 'participant_id', name=op.f('uq_live_player_contest_id_participant_id'))
    )
    with op.batch_alter_table('live_player', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_player_contest_id'), ['contest_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_live_player_entrant_id'), ['entrant_id'], unique=False)

    op.create_table('live_question',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contest_id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('points', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revealed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'open', 'closed', 'revealed')", name=op.f('ck_live_question_status')),
    sa.ForeignKeyConstraint(['contest_id'], ['live_contest.id'], name=op.f('fk_live_question_contest_id_live_contest'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['question_id'], ['question.id'], name=op.f('fk_live_question_question_id_question'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['round_id'], ['live_round.id'], name=op.f('fk_live_question_round_id_live_round'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_question'))
    )
    with op.batch_alter_table('live_question', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_question_contest_id'), ['contest_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_live_question_round_id'), ['round_id'], unique=False)
    # the contest's current question (the two tables refer to each other)
    with op.batch_alter_table('live_contest', schema=None) as batch_op:
        batch_op.create_foreign_key(op.f('fk_live_contest_current_id'), 'live_question', ['current_id'], ['id'],
                                    ondelete='SET NULL')

    op.create_table('live_buzz',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('live_question_id', sa.Integer(), nullable=False),
    sa.Column('entrant_id', sa.Integer(), nullable=False),
    sa.Column('player_id', sa.Integer(), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rtt_ms', sa.Float(), nullable=True),
    sa.Column('corrected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('early', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['entrant_id'], ['live_entrant.id'], name=op.f('fk_live_buzz_entrant_id_live_entrant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['live_question_id'], ['live_question.id'], name=op.f('fk_live_buzz_live_question_id_live_question'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['player_id'], ['live_player.id'], name=op.f('fk_live_buzz_player_id_live_player'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_buzz')),
    sa.UniqueConstraint('live_question_id', 'entrant_id', 'attempt', name=op.f('uq_live_buzz_live_question_id_entrant_id_attempt'))
    )
    with op.batch_alter_table('live_buzz', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_buzz_live_question_id'), ['live_question_id'], unique=False)

    op.create_table('live_score',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contest_id', sa.Integer(), nullable=False),
    sa.Column('entrant_id', sa.Integer(), nullable=False),
    sa.Column('live_question_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('points', sa.Float(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('undoes', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('base', 'answer', 'early', 'wager', 'speed', 'streak', 'correction', 'undo')", name=op.f('ck_live_score_kind')),
    sa.ForeignKeyConstraint(['contest_id'], ['live_contest.id'], name=op.f('fk_live_score_contest_id_live_contest'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entrant_id'], ['live_entrant.id'], name=op.f('fk_live_score_entrant_id_live_entrant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['live_question_id'], ['live_question.id'], name=op.f('fk_live_score_live_question_id_live_question'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['undoes'], ['live_score.id'], name=op.f('fk_live_score_undoes_live_score'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_live_score_user_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_score'))
    )
    with op.batch_alter_table('live_score', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_score_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_live_score_contest_id'), ['contest_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_live_score_entrant_id'), ['entrant_id'], unique=False)

    op.create_table('live_wager',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('live_question_id', sa.Integer(), nullable=False),
    sa.Column('entrant_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entrant_id'], ['live_entrant.id'], name=op.f('fk_live_wager_entrant_id_live_entrant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['live_question_id'], ['live_question.id'], name=op.f('fk_live_wager_live_question_id_live_question'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_wager')),
    sa.UniqueConstraint('live_question_id', 'entrant_id', name=op.f('uq_live_wager_live_question_id_entrant_id'))
    )
    with op.batch_alter_table('live_wager', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_wager_live_question_id'), ['live_question_id'], unique=False)

    with op.batch_alter_table('quiz', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_quiz_mode'), type_='check')
        batch_op.create_check_constraint(op.f('ck_quiz_mode'), "mode IN ('exam', 'practice', 'live')")



def downgrade():
    with op.batch_alter_table('quiz', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_quiz_mode'), type_='check')
        batch_op.create_check_constraint(op.f('ck_quiz_mode'), "mode IN ('exam', 'practice')")
    with op.batch_alter_table('live_contest', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_live_contest_current_id'), type_='foreignkey')

    with op.batch_alter_table('live_wager', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_wager_live_question_id'))

    op.drop_table('live_wager')
    with op.batch_alter_table('live_score', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_score_entrant_id'))
        batch_op.drop_index(batch_op.f('ix_live_score_contest_id'))
        batch_op.drop_index(batch_op.f('ix_live_score_action'))

    op.drop_table('live_score')
    with op.batch_alter_table('live_buzz', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_buzz_live_question_id'))

    op.drop_table('live_buzz')
    with op.batch_alter_table('live_question', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_question_round_id'))
        batch_op.drop_index(batch_op.f('ix_live_question_contest_id'))

    op.drop_table('live_question')
    with op.batch_alter_table('live_player', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_player_entrant_id'))
        batch_op.drop_index(batch_op.f('ix_live_player_contest_id'))

    op.drop_table('live_player')
    with op.batch_alter_table('live_round', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_round_contest_id'))

    op.drop_table('live_round')
    with op.batch_alter_table('live_entrant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_entrant_contest_id'))

    op.drop_table('live_entrant')
    with op.batch_alter_table('live_contest', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_contest_unit_id'))

    op.drop_table('live_contest')
